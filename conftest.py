"""Tests run in the testing configuration (config.settings detects pytest): background
tasks execute at once and mail stays in memory."""
