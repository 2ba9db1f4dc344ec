"""humimic.eval.runner.score_policy: any policy scored as `humimic eval` scores a checkpoint."""

from __future__ import annotations

import contextlib
import io
import json
from dataclasses import replace

import pytest

from humimic.eval.runner import eval_config, evaluate, score_policy
from humimic.train.runner import build_runner, load_run_config
from tests.export.helpers import trained_run


def test_a_checkpoints_policy_scores_as_evaluate_scores_it(tmp_path):
    run = trained_run()
    ckpt = sorted(run.glob("model_*.pt"))[-1]
    expected = json.loads(evaluate(ckpt, None, 3, video=False, out_dir=tmp_path).read_text())
    cfg = eval_config(load_run_config(run), None, 3)
    runner = build_runner(replace(cfg, runner=replace(cfg.runner, resume=str(ckpt))), None)
    runner.env.close()
    with contextlib.redirect_stdout(io.StringIO()):
        policy = runner.get_inference_policy()
    metrics, elr = score_policy(cfg, policy)
    assert metrics.E_mpbpe.mean == pytest.approx(expected["E_mpbpe"]["mean"], rel=1e-6)
    assert metrics.E_g_mpbpe.mean == pytest.approx(expected["E_g_mpbpe"]["mean"], rel=1e-6)
    assert metrics.success_rate.mean == expected["success_rate"]["mean"]
    assert elr.mean == pytest.approx(expected["ELR_0.7m"]["mean"], rel=1e-6)
