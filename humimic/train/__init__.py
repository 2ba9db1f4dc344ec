"""PPO training of tracking policies with rsl-rl."""
