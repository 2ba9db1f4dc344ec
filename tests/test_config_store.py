"""Config composition: ``+key.path=value`` adds entries to typed dicts of dataclasses."""

from __future__ import annotations

import pytest

from humimic.config.store import compose
from humimic.config.task import ObsTermCfg, RewardTermCfg
from humimic.errors import ConfigError


def test_a_new_reward_term_from_the_command_line() -> None:
    base = compose("train")
    term = "{fn: body_pos_error, weight: 0.5, params: {bodies: root}}"
    cfg = compose("train", [f"+task.rewards.root_pos={term}"])
    assert cfg.task.rewards["root_pos"] == RewardTermCfg(
        fn="body_pos_error", weight=0.5, params={"bodies": "root"}
    )
    assert set(cfg.task.rewards) == set(base.task.rewards) | {"root_pos"}
    assert cfg.task.rewards["feet_pos"] == base.task.rewards["feet_pos"]


def test_a_new_observation_term_field_by_field() -> None:
    cfg = compose(
        "train",
        [
            "+task.observations.actor.terms.ref_heading_error.noise=0.05",
            "+task.observations.actor.terms.ref_heading_error.params={ahead_steps: 2}",
            "sim.num_envs=8",  # a plain override beside the additions
        ],
    )
    term = cfg.task.observations["actor"].terms["ref_heading_error"]
    assert term == ObsTermCfg(noise=0.05, params={"ahead_steps": 2})
    assert list(cfg.task.observations["actor"].terms)[-1] == "ref_heading_error"  # appended
    assert cfg.sim.num_envs == 8


@pytest.mark.parametrize(
    ("override", "match"),
    [
        ("+task.rewards.x.wieght=1", "task.rewards.x.wieght: Key 'wieght' not in 'RewardTermCfg'"),
        ("+task.rewardz.x.weight=1", "task.rewardz: Key 'rewardz' not in 'TaskCfg'"),
        ("+task.rewards.x={weight: abc}", "task.rewards.x.weight: Value 'abc'"),
    ],
)
def test_a_misspelt_addition_names_its_key(override: str, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        compose("train", [override])
