"""The commit range between last good and first bad: compare URLs, and dates that share a commit.

For torch nightlies the cells record ``torch.version.git_version``, a commit of pytorch's
``nightly`` branch whose message reads ``YYYY-MM-DD nightly release (<main sha>)``; the main
shas of the two ends give the compare URL that lists the real PRs. The messages come from a
local pytorch checkout (``--pytorch-repo``) or a GitHub-REST-shaped API (``--github-api``,
default api.github.com); when neither answers, the nightly-branch compare URL still stands.

Two nightly dates can share one commit (a nightly rebuilt from the same branch head): they
are one point of the history, so they collapse into one candidate in what is reported.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from vllm_matrix.nightly import commits as nightly_git
from vllm_matrix.nightly.client import IndexClient
from vllm_matrix.nightly.errors import NightlyError

SAME_COMMIT = (
    "last good and first bad are one torch commit: the difference is not in torch's code "
    "(a rebuild, a companion such as triton, or flakiness)"
)


@dataclass(frozen=True)
class Messages:
    """Where nightly commit messages are read: a local pytorch checkout, else a GitHub-shaped API."""

    checkout: Path | None = None
    api_base: str | None = nightly_git.GITHUB_API
    client: IndexClient | None = None

    def main_sha(self, git_version: str) -> tuple[str | None, str]:
        """The main-branch sha the nightly commit's message names, or (None, why not)."""
        try:
            if self.checkout is not None:
                message = nightly_git.message_from_checkout(self.checkout, git_version)
            elif self.api_base:
                message = nightly_git.message_from_api(
                    git_version, api_base=self.api_base, client=self.client
                )
            else:
                return None, "no pytorch checkout or API to read nightly commit messages from"
        except NightlyError as exc:
            return None, str(exc)
        sha = nightly_git.main_sha_from_message(message)
        return (
            sha,
            "" if sha else f"the message of {git_version[:12]} names no main commit: {message.strip()!r}",
        )


@dataclass(frozen=True)
class TorchRange:
    """The torch commits between last good and first bad, and the URLs that list them."""

    good_main: str | None
    bad_main: str | None
    nightly_compare_url: str | None
    main_compare_url: str | None
    note: str = ""


def torch_range(good_git: str | None, bad_git: str | None, messages: Messages) -> TorchRange:
    """Compare URLs over the nightly branch and over main; a note when the ends share one commit."""
    if not (good_git and bad_git):
        return TorchRange(None, None, None, None, "the torch commits of the ends are not known")
    good_main, why_good = messages.main_sha(good_git)
    bad_main, why_bad = messages.main_sha(bad_git)
    if good_git == bad_git or (good_main and good_main == bad_main):
        return TorchRange(good_main, bad_main, None, None, SAME_COMMIT)
    nightly = nightly_git.compare_url(good_git, bad_git)
    main = nightly_git.compare_url(good_main, bad_main) if good_main and bad_main else None
    note = "" if main else f"no main-branch range: {why_good or why_bad}"
    return TorchRange(good_main, bad_main, nightly, main, note)


def collapse(labels: Sequence[str], commit_of: Callable[[str], str | None]) -> list[list[str]]:
    """``labels`` in order, neighbours known to share one commit grouped together."""
    groups: list[list[str]] = []
    previous: str | None = None
    for label in labels:
        commit = commit_of(label)
        if groups and commit is not None and commit == previous:
            groups[-1].append(label)
        else:
            groups.append([label])
        previous = commit
    return groups
