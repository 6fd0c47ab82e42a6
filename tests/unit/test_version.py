"""One version and one licence: pyproject.toml's, reported by the installed package, the template's Serverless
Application Repository metadata, the browser package (clients/browser) and the latest release in CHANGELOG.md."""

from __future__ import annotations

import json
import re
import tomllib
from importlib import metadata
from pathlib import Path
from typing import Any

from sam_local.template import Template

REPO_ROOT = Path(__file__).resolve().parents[2]
SEMVER = re.compile(r"(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)")
RELEASE_HEADING = re.compile(r"^## \[(?P<version>[^\]]+)\](?: - (?P<date>\d{4}-\d{2}-\d{2}))?$", re.MULTILINE)
# AWS::ServerlessRepo::Application's documented patterns (AWS SAM developer guide, "Publishing applications").
SAR_NAME = re.compile(r"[a-zA-Z0-9\-]+")
SAR_AUTHOR = re.compile(r"[a-z0-9](([a-z0-9]|-(?!-))*[a-z0-9])?")


def project() -> dict[str, Any]:
    document = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    table: dict[str, Any] = document["project"]
    return table


def application() -> dict[str, Any]:
    app: dict[str, Any] = Template().doc["Metadata"]["AWS::ServerlessRepo::Application"]
    return app


def changelog_headings() -> list[tuple[str, str | None]]:
    text = (REPO_ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    return [(match["version"], match["date"]) for match in RELEASE_HEADING.finditer(text)]


def test_pyproject_version_is_semver() -> None:
    assert SEMVER.fullmatch(project()["version"])


def test_template_metadata_reports_the_version() -> None:
    assert str(application()["SemanticVersion"]) == project()["version"]


def test_changelog_latest_release_is_the_version() -> None:
    headings = changelog_headings()
    assert headings[0] == ("Unreleased", None)
    releases = headings[1:]
    assert releases, "CHANGELOG.md has no release"
    assert all(date is not None and SEMVER.fullmatch(version) for version, date in releases)
    assert releases[0][0] == project()["version"]
    as_tuples = [tuple(int(part) for part in version.split(".")) for version, _ in releases]
    assert as_tuples == sorted(as_tuples, reverse=True), "releases newest first"


def test_browser_package_has_the_version_and_licence() -> None:
    browser = REPO_ROOT / "clients" / "browser"
    manifest = json.loads((browser / "package.json").read_text(encoding="utf-8"))
    lock = json.loads((browser / "package-lock.json").read_text(encoding="utf-8"))
    versions = {manifest["version"], lock["version"], lock["packages"][""]["version"]}
    assert versions == {project()["version"]} == {str(application()["SemanticVersion"])}
    assert manifest["license"] == project()["license"]


def test_installed_package_reports_the_version() -> None:
    assert metadata.version(project()["name"]) == project()["version"]


def test_one_licence_everywhere() -> None:
    assert project()["license"] == "Apache-2.0"
    assert project()["license-files"] == [application()["LicenseUrl"]]
    assert application()["SpdxLicenseId"] == "Apache-2.0"
    licence = (REPO_ROOT / application()["LicenseUrl"]).read_text(encoding="utf-8")
    assert "Apache License\n                           Version 2.0, January 2004" in licence
    assert "END OF TERMS AND CONDITIONS" in licence


def test_application_metadata_is_publishable() -> None:
    app = application()
    assert SAR_NAME.fullmatch(app["Name"]) and len(app["Name"]) <= 140
    assert SAR_AUTHOR.fullmatch(app["Author"]) and len(app["Author"]) <= 127
    assert app["Description"] == project()["description"]
    assert len(app["Description"]) <= 256
    assert (REPO_ROOT / app["ReadmeUrl"]).is_file()
