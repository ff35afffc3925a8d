"""The README and docs/ stay true: relative links resolve (files and heading anchors), every `dali-sr` command
and `python -m benchmarks.<name>` command and long option they show exists, the README lists every `dali-sr`
command, and it stays short."""
from __future__ import annotations

import argparse
import importlib
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Iterator, NamedTuple

import pytest

from dali_sr.cli import build_parser

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
README_LIMIT_BYTES = 20_000

FENCE = re.compile(r"^ {0,3}(```|~~~).*?^ {0,3}\1[^\n]*$", re.M | re.S)
CODE_SPAN = re.compile(r"(`+)(.+?)\1", re.S)
HEADING = re.compile(r"^ {0,3}#{1,6}[ \t]+(.+?)[ \t]*#*[ \t]*$", re.M)
LINK = re.compile(r"\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
REFERENCE_LINK = re.compile(r"^ {0,3}\[[^\]]+\]:\s+<?(\S+?)>?(?:\s+\"[^\"]*\")?\s*$", re.M)
URL_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:|^//")
COMMAND = re.compile(r"(?:\bdali-sr|\bpython3? -m dali_sr)[ \t]+([A-Za-z][\w-]*|--?[A-Za-z][\w-]*)([^\n#]*)")
HARNESS_COMMAND = re.compile(r"\bpython3? -m benchmarks\.(\w+)([^\n#]*)")
LONG_OPTION = re.compile(r"(?<![\w-])--[A-Za-z][\w-]*")


class Mention(NamedTuple):
    """`dali-sr WORD REST` in a code span or block: the command word and the rest of its line."""

    word: str
    rest: str


def without_code(text: str) -> str:
    """The prose of a page: fenced blocks and code spans removed (links and headings inside code don't count)."""
    return CODE_SPAN.sub("", FENCE.sub("", text))


def code_of(text: str) -> list[str]:
    """Every fenced block and code span of a page."""
    blocks = [m.group(0) for m in FENCE.finditer(text)]
    return blocks + [m.group(2) for m in CODE_SPAN.finditer(FENCE.sub("", text))]


def github_slug(heading: str) -> str:
    """GitHub's anchor for a heading: its text without markup, lower-cased, with every character that is not a
    letter, digit, underscore, hyphen or space removed and spaces turned into hyphens."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)
    text = text.replace("`", "").replace("*", "")
    return re.sub(r"[^\w\- ]", "", text.strip().lower()).replace(" ", "-")


def anchors(text: str) -> set[str]:
    """The anchors of a page's headings; a repeated heading gets -1, -2, ... as on GitHub."""
    seen: Counter[str] = Counter()
    result = set()
    for match in HEADING.finditer(FENCE.sub("", text)):
        slug = github_slug(match.group(1))
        result.add(f"{slug}-{seen[slug]}" if seen[slug] else slug)
        seen[slug] += 1
    return result


def link_targets(text: str) -> list[str]:
    """The targets of a page's inline and reference links, outside code."""
    prose = without_code(text)
    return LINK.findall(prose) + REFERENCE_LINK.findall(prose)


def broken_links(page: Path, text: str, root: Path) -> list[str]:
    """Each relative link of `page` whose file, or whose anchor in that file, does not exist."""
    problems = []
    for target in link_targets(text):
        if URL_SCHEME.match(target):
            continue
        path_part, _, anchor = target.partition("#")
        if not path_part:
            if anchor not in anchors(text):
                problems.append(f"{target}: no heading with anchor #{anchor} in {page.relative_to(root)}")
            continue
        linked = (page.parent / path_part).resolve()
        if root not in linked.parents and linked != root:
            problems.append(f"{target}: outside the repository")
        elif not linked.exists():
            problems.append(f"{target}: no such file")
        elif anchor and linked.suffix != ".md":
            problems.append(f"{target}: an anchor into a file that is not markdown")
        elif anchor and anchor not in anchors(linked.read_text(encoding="utf-8")):
            problems.append(f"{target}: no heading with anchor #{anchor} in {linked.relative_to(root)}")
    return problems


def command_mentions(text: str) -> Iterator[Mention]:
    """Every `dali-sr WORD` (or `python -m dali_sr WORD`) in the code of a page."""
    for code in code_of(text):
        for match in COMMAND.finditer(code):
            yield Mention(match.group(1), match.group(2))


def harness_mentions(text: str) -> Iterator[Mention]:
    """Every `python -m benchmarks.NAME` in the code of a page."""
    for code in code_of(text):
        for match in HARNESS_COMMAND.finditer(code):
            yield Mention(match.group(1), match.group(2))


def unknown_harness_commands(text: str) -> list[str]:
    """Each mention of a research harness command that does not exist, or of a long option it lacks."""
    problems = []
    for mention in harness_mentions(text):
        try:
            module = importlib.import_module(f"benchmarks.{mention.word}")
        except ModuleNotFoundError:
            problems.append(f"python -m benchmarks.{mention.word}: no such module")
            continue
        options = module.parser()._option_string_actions
        problems += [f"python -m benchmarks.{mention.word} {option}: no such option"
                     for option in LONG_OPTION.findall(mention.rest) if option not in options]
    return problems


def subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    """The parser's subcommands by name."""
    actions = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(actions[0].choices) if actions else {}


def unknown_commands(text: str, parser: argparse.ArgumentParser) -> list[str]:
    """Each mention of a command the parser lacks, or of a long option its command lacks."""
    commands = subcommands(parser)
    problems = []
    for mention in command_mentions(text):
        if mention.word.startswith("-"):
            continue
        if mention.word not in commands:
            problems.append(f"dali-sr {mention.word}: no such command")
            continue
        options = commands[mention.word]._option_string_actions
        problems += [f"dali-sr {mention.word} {option}: no such option"
                     for option in LONG_OPTION.findall(mention.rest) if option not in options]
    return problems


@pytest.fixture(scope="module")
def parser() -> argparse.ArgumentParser:
    return build_parser()


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_resolves_to_a_file_and_heading(page: Path) -> None:
    assert broken_links(page, page.read_text(encoding="utf-8"), ROOT) == []


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_dali_sr_command_shown_exists(page: Path, parser: argparse.ArgumentParser) -> None:
    assert unknown_commands(page.read_text(encoding="utf-8"), parser) == []


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_research_harness_command_shown_exists(page: Path) -> None:
    assert unknown_harness_commands(page.read_text(encoding="utf-8")) == []


def test_the_readme_lists_every_dali_sr_command(parser: argparse.ArgumentParser) -> None:
    shown = {m.word for m in command_mentions((ROOT / "README.md").read_text(encoding="utf-8"))}
    assert sorted(set(subcommands(parser)) - shown) == []


@pytest.mark.slow
def test_the_architecture_pages_dataset_type_example_runs_and_prints_what_it_says(tmp_path: Path) -> None:
    page = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    [example] = re.findall(r"^```python\n(.*?)^```", page, re.M | re.S)
    said = re.search(r"^print\(.*\)  # (.+)$", example, re.M).group(1)
    example = example.replace('"/tmp/dali_sr_inverted_pairs"', repr(str(tmp_path / "pairs")))
    run = subprocess.run([sys.executable, "-c", example], capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == said


def test_the_readme_stays_under_its_size_limit() -> None:
    assert (ROOT / "README.md").stat().st_size < README_LIMIT_BYTES


# The checks themselves, on pages written for them.

def test_github_slugs_follow_githubs_rule() -> None:
    assert github_slug("On a GPU machine: `dali-sr gpu-suite`") == "on-a-gpu-machine-dali-sr-gpu-suite"
    assert github_slug("`type: RealESRGANDataset`") == "type-realesrgandataset"
    assert github_slug("dali_sr's own keys") == "dali_srs-own-keys"
    assert github_slug("RealESRGANDataset against BasicSR's dataset + feed_data (CPU)") == \
        "realesrgandataset-against-basicsrs-dataset--feed_data-cpu"
    assert github_slug("See [the page](x.md) **now**") == "see-the-page-now"
    assert anchors("# A\n## A\n```\n# not a heading\n```\n## A\n") == {"a", "a-1", "a-2"}


def test_broken_links_are_reported(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "other.md").write_text("# Other page\n## Keys\n", encoding="utf-8")
    (tmp_path / "data.json").write_text("{}", encoding="utf-8")
    page = tmp_path / "docs" / "page.md"
    text = ("# Page\n[ok](other.md#keys) [ok](#page) [ok](../data.json) [web](https://example.org/x#y)\n"
            "[gone](missing.md) [bad anchor](other.md#nothing) [self](#nope) [up](../../x.md)\n"
            "`[in code](missing-too.md)`\n```\n[in a block](missing-three.md)\n```\n[ref]: ../nowhere.md\n")
    assert broken_links(page, text, tmp_path.resolve()) == [
        "missing.md: no such file",
        "other.md#nothing: no heading with anchor #nothing in docs/other.md",
        "#nope: no heading with anchor #nope in docs/page.md",
        "../../x.md: outside the repository",
        "../nowhere.md: no such file",
    ]


def test_commands_and_options_missing_from_the_parser_are_reported() -> None:
    parser = argparse.ArgumentParser(prog="dali-sr")
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("pack").add_argument("--shards")
    text = ("Run `dali-sr pack SRC DST --shards 4` or `python3 -m dali_sr --version`.\n"
            "```\ndali-sr bench-matrix --threads 2   # gone\npython -m dali_sr pack SRC DST --codec raw\n```\n"
            "Prose naming dali-sr train-demo is not a command line.\n")
    assert unknown_commands(text, parser) == ["dali-sr bench-matrix: no such command",
                                              "dali-sr pack --codec: no such option"]


def test_harness_commands_and_options_missing_are_reported() -> None:
    text = ("```\npython -m benchmarks.s3_hung --set deadline=5 --json out.json\n"
            "python -m benchmarks.s3_hung --deadline 5\npython3 -m benchmarks.no_such_probe --x 1\n```\n")
    assert unknown_harness_commands(text) == ["python -m benchmarks.s3_hung --deadline: no such option",
                                              "python -m benchmarks.no_such_probe: no such module"]
