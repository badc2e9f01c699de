"""Loaded before Django's settings: tests run in the testing configuration, with background
tasks executed at once and mail kept in memory."""

import os

os.environ.setdefault("ODR_TESTING", "1")
os.environ.setdefault("ODR_TASKS_IMMEDIATE", "1")
os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings"
