"""What the runner needs to know of each model: how to build, feed and evaluate it."""
