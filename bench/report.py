"""BENCHMARKS.md: the machine, the parameters, every table and the targets, as Markdown (also what is printed)."""

from __future__ import annotations

import datetime
import os
import platform
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from bench.calls import GET_ITEM, GET_SECRET_VALUE, Scenario
from bench.cold import ColdResult
from bench.sizes import Package
from bench.stats import Summary, ratio
from bench.throughput import ThroughputResult
from bench.warm import NetworkResult, OverheadResult

MIB = 1024 * 1024
SECTIONS = (
    "## Machine",
    "## Parameters",
    "## Targets",
    "## Warm path over the network",
    "## Warm overhead without network",
    "## AWS calls per 1,000 tokens",
    "## Cold start from the built artefacts",
    "## Package sizes",
    "## Local API throughput",
)
COLD_TARGET = 1.3
OVERHEAD_TARGET = 3.0


@dataclass(frozen=True)
class Results:
    parameters: dict[str, object]
    network: NetworkResult
    overhead: OverheadResult
    calls: list[Scenario]
    cold: ColdResult
    sizes: list[Package]
    throughput: ThroughputResult


def _read(path: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except OSError:
        return ""


def machine(runtime_version: str) -> list[tuple[str, str]]:
    cpu = next((line.split(":", 1)[1].strip() for line in _read("/proc/cpuinfo").splitlines()
                if line.startswith("model name")), platform.processor() or platform.machine())  # fmt: skip
    mem_kib = next((int(line.split()[1]) for line in _read("/proc/meminfo").splitlines()
                    if line.startswith("MemTotal:")), 0)  # fmt: skip
    os_name = next((line.split("=", 1)[1].strip('"') for line in _read("/etc/os-release").splitlines()
                    if line.startswith("PRETTY_NAME=")), platform.system())  # fmt: skip
    commit = subprocess.run(["git", "describe", "--always", "--dirty"], capture_output=True, text=True, check=False,  # noqa: S607
                            cwd=Path(__file__).resolve().parents[1]).stdout.strip()  # fmt: skip
    return [
        ("CPU", f"{cpu} ({platform.machine()})"),
        ("Cores", f"{os.cpu_count()} logical, {len(os.sched_getaffinity(0))} usable by the bench"),
        ("Memory", f"{mem_kib / MIB:.1f} GiB"),
        ("OS", f"{os_name}, kernel {platform.release()}"),
        ("Python (bench, warm path, local API)", sys.version.split()[0]),
        ("Python (cold start: the Lambda runtime's)", runtime_version),
        ("Date", datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")),
        ("Commit", commit or "unknown"),
    ]


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    return lines + ["| " + " | ".join(row) + " |" for row in rows]


def _ms(value: float) -> str:
    return f"{value:.2f}"


def _us(value: float) -> str:
    return f"{value:.1f}"


def _mib(size: int) -> str:
    return f"{size / MIB:.2f}"


def _verdict(met: bool) -> str:
    return "**met**" if met else "**not met**"


def _cached(calls: list[Scenario]) -> Scenario:
    return next(s for s in calls if s.tenant_ttl_seconds)


def targets(results: Results) -> list[list[str]]:
    cached = _cached(results.calls)
    tenant_reads = cached.expected[GET_ITEM] - cached.tokens
    dynamo_met = cached.matches and cached.per_token(GET_ITEM) < 2 and tenant_reads < cached.tokens
    cold, overhead = results.cold.ratio, results.overhead.ratio
    return [
        ["≤ 1 DynamoDB round trip per token in steady state",
         f"{cached.dynamodb_per_token:.3f} per token with the tenant cache at {cached.tenant_ttl_seconds} s "
         f"(model: 1 user read per token + {tenant_reads} tenant refreshes in {cached.tokens} tokens = "
         f"{cached.per_token(GET_ITEM, cached.expected):.3f})", _verdict(dynamo_met)],
        [f"cold start ≤ {COLD_TARGET}x the floor",
         f"{cold:.2f}x (median {results.cold.broker.median('wall_ms'):.0f} ms vs "
         f"{results.cold.floor.median('wall_ms'):.0f} ms)", _verdict(cold <= COLD_TARGET)],
        [f"warm overhead ≤ {OVERHEAD_TARGET:.0f}x a bare PyJWT encode",
         f"{overhead:.1f}x (p50 {results.overhead.handler.p50:.0f} µs vs {results.overhead.encode.p50:.1f} µs)",
         _verdict(overhead <= OVERHEAD_TARGET)],
    ]  # fmt: skip


def _summary_row(name: str, s: Summary, base: Summary) -> list[str]:
    return [
        name,
        _ms(s.p50),
        _ms(s.p99),
        _ms(s.mean),
        f"{ratio(s.p50, base.p50):.2f}x",
        f"{ratio(s.p99, base.p99):.2f}x",
    ]


def network_section(r: NetworkResult) -> list[str]:
    return [
        f"The real handler (`token_broker.handler.lambda_handler`, HTTP API v2 event with authorizer claims) against "
        f"the AWS stub with {r.dynamodb_ms:g} ms per DynamoDB call and {r.secretsmanager_ms:g} ms per Secrets Manager "
        "call (server-side), interleaved call by call with the naive baseline (plain boto3: GetSecretValue + two "
        "strongly consistent GetItem + HS256 encode, every call) and the floor (one GetItem + HS256 encode). "
        "Milliseconds; ratios against the floor.",
        "",
        *_table(
            ["path", "p50 ms", "p99 ms", "mean ms", "p50 vs floor", "p99 vs floor"],
            [
                _summary_row("broker", r.broker, r.floor),
                _summary_row("naive baseline", r.naive, r.floor),
                _summary_row("floor", r.floor, r.floor),
            ],
        ),
        "",
        f"Broker vs naive baseline: p50 {ratio(r.broker.p50, r.naive.p50):.2f}x, "
        f"p99 {ratio(r.broker.p99, r.naive.p99):.2f}x.",
    ]


def overhead_section(r: OverheadResult) -> list[str]:
    return [
        "The whole warm handler with DynamoDB and Secrets Manager answered in-process (the broker's client factories "
        "hand out in-memory fakes), log and metric lines to a sink, against a bare PyJWT HS256 encode of a "
        "comparable payload. Microseconds.",
        "",
        *_table(
            ["path", "p50 µs", "p99 µs", "mean µs", "p50 ratio"],
            [
                ["handler", _us(r.handler.p50), _us(r.handler.p99), _us(r.handler.mean), f"{r.ratio:.2f}x"],
                ["bare jwt.encode", _us(r.encode.p50), _us(r.encode.p99), _us(r.encode.mean), "1.00x"],
            ],
        ),
    ]


def _counts_cell(counts: dict[tuple[str, str], int], operation: tuple[str, str]) -> str:
    return str(counts.get(operation, 0))


def calls_section(calls: list[Scenario]) -> list[str]:
    first = calls[0]
    scale = 1000 / first.tokens
    rows = []
    for s in calls:
        others = sorted(k for k in s.measured if k not in (GET_ITEM, GET_SECRET_VALUE))
        rows.append([
            s.name,
            "-" if s.tenant_ttl_seconds is None else f"{s.tenant_ttl_seconds}",
            "-" if s.secret_ttl_seconds is None else f"{s.secret_ttl_seconds}",
            f"{_counts_cell(s.measured, GET_ITEM)} (expected {_counts_cell(s.expected, GET_ITEM)})",
            f"{_counts_cell(s.measured, GET_SECRET_VALUE)} (expected {_counts_cell(s.expected, GET_SECRET_VALUE)})",
            ", ".join(f"{svc} {op}: {s.measured[(svc, op)]}" for svc, op in others) or "none",
            f"{s.dynamodb_per_token:.3f}",
            f"{sum(s.measured.values()) * scale:.0f}",
            "yes" if s.matches else "**no**",
        ])  # fmt: skip
    return [
        f"{first.tokens} tokens from {first.users} users in {first.tenants} tenants, spread evenly over "
        f"{first.span_seconds:.0f} simulated seconds (the broker's clock is the bench's), counted at the stub "
        "(the wire). Expected counts come from the TTLs alone: one user read per token, one tenant read per "
        "tenant-cache miss, one secret read per secret-cache miss (an entry fetched at t serves until t + TTL).",
        "",
        *_table(
            [
                "run",
                "tenant TTL s",
                "secret TTL s",
                "DynamoDB GetItem",
                "Secrets Manager GetSecretValue",
                "other calls",
                "DynamoDB calls per token",
                "AWS calls per 1,000 tokens",
                "matches the model",
            ],
            rows,
        ),
    ]


def cold_section(r: ColdResult) -> list[str]:
    rows = []
    for name, side in (
        ("broker: import handler + first request", r.broker),
        ("floor: import boto3, jwt + GetItem", r.floor),
    ):
        rows.append([
            name,
            f"{side.median('wall_ms'):.0f} ({side.low('wall_ms'):.0f}-{side.high('wall_ms'):.0f})",
            f"{side.median('import_ms'):.0f}",
            f"{side.median('request_ms'):.0f}",
            f"{side.median('maxrss_kib') / 1024:.1f} "
            f"({side.low('maxrss_kib') / 1024:.1f}-{side.high('maxrss_kib') / 1024:.1f})",
        ])  # fmt: skip
    return [
        f"Fresh `{r.python}` (Python {r.python_version}) interpreters, `-I -S -B`, `sys.path` = [function dir, "
        "layer `python/`, runtime client dir] of the host-architecture build (`sam_local.host_build`), the "
        "template's environment plus Lambda's with active tracing (`_X_AMZN_TRACE_ID` and an X-Ray daemon address "
        f"the bench listens on: {r.trace_datagrams} trace datagrams received from the broker's runs; the function "
        "runs no tracing SDK, Lambda records its segments). "
        f"{len(r.broker.runs)} runs of each, interleaved, after one uncounted pair; AWS is the stub with its "
        "modelled latency. Wall time from spawn to the child's report; import and request times as the child saw "
        "them; peak RSS is the child's `VmHWM` (its `ru_maxrss` would include the parent's, carried over fork). "
        "Median (min-max).",
        "",
        *_table(["interpreter", "wall ms", "import ms", "first request ms", "peak RSS MiB"], rows),
        "",
        f"Ratio of the medians (wall): **{r.ratio:.2f}x**.",
    ]


def sizes_section(packages: list[Package]) -> list[str]:
    lines = ["Unzipped and zipped (deflate, in memory) as `sam build` leaves them for the host architecture.", ""]
    lines += _table(["package", "files", "unzipped MiB", "zipped MiB"],
                    [[p.name, str(p.files), _mib(p.unzipped), _mib(p.zipped)] for p in packages])  # fmt: skip
    for p in packages:
        lines += ["", f"Top contributors to {p.name}:", ""]
        lines += _table(["top-level package", "unzipped MiB", "zipped MiB", "share of unzipped"],
                        [[c.name, _mib(c.unzipped), _mib(c.zipped), f"{100 * c.unzipped / max(1, p.unzipped):.0f}%"]
                         for c in p.top])  # fmt: skip
    return lines


def throughput_section(r: ThroughputResult) -> list[str]:
    latency = r.latency_ms
    return [
        "The local stack (`python -m bench.local_api`: the broker in-process behind the local HTTP API and its JWT "
        "authorizer, moto as AWS, no modelled latency) with the route throttle raised, driven closed-loop from "
        "this process by every entitled demo user. For reference only: moto and the local API, not Lambda.",
        "",
        *_table(
            ["concurrency", "requests", "statuses", "tokens/s", "p50 ms", "p99 ms", "wrong tokens"],
            [
                [
                    str(r.concurrency),
                    str(r.requests),
                    ", ".join(f"{k}: {v}" for k, v in r.statuses.items()),
                    f"{r.tokens_per_second:.1f}",
                    _ms(latency.p50) if latency else "-",
                    _ms(latency.p99) if latency else "-",
                    str(r.wrong_tokens),
                ]
            ],
        ),
    ]


def render(results: Results, runtime_version: str) -> str:
    lines = [
        "# Benchmarks",
        "",
        "Written by `make bench` (`python -m bench`); rerun it to refresh. Nothing here is a test threshold: the "
        "targets are issue 10's and are judged from this run's numbers.",
        "",
        SECTIONS[0],
        "",
        *_table(["", ""], [[k, v] for k, v in machine(runtime_version)]),
        "",
        SECTIONS[1],
        "",
        *_table(["parameter", "value"], [[k, str(v)] for k, v in results.parameters.items()]),
        "",
        SECTIONS[2],
        "",
        *_table(["target", "this run", "verdict"], targets(results)),
        "",
        "SnapStart is a deployment setting (template.yaml) and is not measured here.",
        "",
        SECTIONS[3],
        "",
        *network_section(results.network),
        "",
        SECTIONS[4],
        "",
        *overhead_section(results.overhead),
        "",
        SECTIONS[5],
        "",
        *calls_section(results.calls),
        "",
        SECTIONS[6],
        "",
        *cold_section(results.cold),
        "",
        SECTIONS[7],
        "",
        *sizes_section(results.sizes),
        "",
        SECTIONS[8],
        "",
        *throughput_section(results.throughput),
        "",
    ]
    return "\n".join(lines)
