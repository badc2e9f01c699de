"""What the agreements app's browser tests share: the pages they drive must work under the
strict Content-Security-Policy, so every violation Chromium reports, and every script
error, is collected and the test fails on it. Nothing here bypasses the CSP."""

from __future__ import annotations

# How Chromium words a CSP violation in the console ("Refused to execute inline script
# because it violates the following Content Security Policy directive: …").
CSP_WORDS = ("Content Security Policy", "Refused to")


def watch(page) -> list[str]:
    """Starts collecting the page's CSP violations and uncaught script errors; returns
    the list they are added to (check it with `assert_clean`)."""
    problems: list[str] = []

    def on_console(message) -> None:
        if any(words in message.text for words in CSP_WORDS):
            problems.append(f"console {message.type}: {message.text}")

    page.on("console", on_console)
    page.on("pageerror", lambda error: problems.append(f"script error: {error}"))
    return problems


def assert_clean(problems: list[str]) -> None:
    assert not problems, "\n".join(problems)
