"""`espctl mcp` driven by the official MCP Python SDK over stdio.

Run by `tests/it/mcp.rs`, which starts a real espctld, prepares the fixtures and passes everything in
a JSON file named by ESPCTL_MCP_TEST_CONFIG:

    espctl         the espctl binary
    version        the version serverInfo must report
    env            environment for the shim (ESPCTL_SOCKET, ESPCTL_HOME, ESPCTLD_BIN, and with the
                   stand-in ESP-IDF its IDF_PATH and PATH)
    catalog        the method catalog: name, aliases, audience, kind, project_scoped,
                   resource_template, params_schema
    elf            a firmware ELF for build.rust_elf
    work           a scratch directory
    project        a copy of the stand-in `hello` project, or null without the stand-in ESP-IDF
    slow_project   a second copy, for the build that is canceled (or null)
    target         the chip the builds use

Every check prints `ok`, `skip` (with the reason) or `FAIL`; the last line is
`mcp: N passed, N failed, N skipped`, and the exit code is 1 when anything failed.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sys
import tarfile
import time
import traceback
import warnings

import anyio
import jsonschema
from mcp import ClientSession, StdioServerParameters, stdio_client
from mcp.shared.exceptions import MCPError

warnings.simplefilter("ignore")  # resources/subscribe is deprecated for 2026 servers; this is a 2025 one

CFG = json.load(open(os.environ["ESPCTL_MCP_TEST_CONFIG"]))

# The tools as seed 000 names them (`build` is an alias of `build.start`).
SEED_TOOLS = [
    "build",
    "build.start",
    "build.status",
    "build.cancel",
    "build.rust_elf",
    "set_target",
    "set_target.run",
    "generate_build_plan",
    "get_clean_plan",
    "sbom.create",
]

UNKNOWN_TASK = "0123456789abcdef0123456789abcdef"
FINAL = {"succeeded", "failed", "canceled"}
BUILD_TIMEOUT = 600

results = {"passed": 0, "failed": 0, "skipped": 0}


class Skip(Exception):
    pass


def check(cond, what):
    if not cond:
        raise AssertionError(what)


async def run_check(name, fn):
    try:
        await fn()
    except Skip as s:
        results["skipped"] += 1
        print(f"skip {name}: {s}", flush=True)
    except Exception:
        results["failed"] += 1
        print(f"FAIL {name}:\n{traceback.format_exc()}", flush=True)
    else:
        results["passed"] += 1
        print(f"ok   {name}", flush=True)


class Updates:
    """Collects notifications/resources/updated by URI."""

    def __init__(self):
        self.by_uri: dict[str, int] = {}

    async def handler(self, message):
        method = getattr(message, "method", None)
        if method == "notifications/resources/updated":
            uri = str(message.params.uri)
            self.by_uri[uri] = self.by_uri.get(uri, 0) + 1
        await anyio.lowlevel.checkpoint()


@contextlib.asynccontextmanager
async def connect(env_overrides=None, handler=None):
    env = dict(CFG["env"])
    env.update(env_overrides or {})
    env = {k: v for k, v in env.items() if v is not None}
    params = StdioServerParameters(command=CFG["espctl"], args=["mcp"], env=env)
    errlog = open(os.path.join(CFG["work"], "shim-stderr.log"), "a")
    async with stdio_client(params, errlog=errlog) as (read, write):
        async with ClientSession(read, write, message_handler=handler) as session:
            init = await session.initialize()
            yield session, init


def structured(result):
    check(not result.is_error, f"tool error: {texts(result)}")
    check(isinstance(result.structured_content, dict), f"no structuredContent: {result}")
    return result.structured_content


def texts(result):
    return "\n".join(getattr(c, "text", "") for c in result.content)


def catalog_tools():
    return [m for m in CFG["catalog"] if m["audience"] == "tool"]


def catalog_names():
    return {n for m in CFG["catalog"] for n in [m["name"], *m["aliases"]]}


async def status_of(session, task_id):
    return structured(await session.call_tool("build.status", {"task_id": task_id}))


async def wait_final(session, task_id, timeout=BUILD_TIMEOUT):
    deadline = time.monotonic() + timeout
    while True:
        info = await status_of(session, task_id)
        if info["status"] in FINAL:
            return info
        check(time.monotonic() < deadline, f"task {task_id} still {info['status']} after {timeout} s")
        await anyio.sleep(0.5)


async def main():
    tools_by_name = {}

    async with connect() as (session, init):

        async def initialize():
            check(init.server_info.name == "espctl", init.server_info)
            check(init.server_info.version == CFG["version"], init.server_info)
            check(init.protocol_version == "2025-11-25", init.protocol_version)
            check(init.capabilities.tools is not None, init.capabilities)
            check(init.capabilities.resources.subscribe is True, init.capabilities)
            check("build://log/{task_id}" in (init.instructions or ""), init.instructions)

        async def list_tools():
            listed = await session.list_tools()
            tools_by_name.update({t.name: t for t in listed.tools})
            names = set(tools_by_name)
            for spec in CFG["catalog"]:
                for name in [spec["name"], *spec["aliases"]]:
                    if spec["audience"] == "tool":
                        check(name in names, f"catalog tool {name} is not listed")
                    else:
                        check(name not in names, f"{spec['audience']} method {name} is listed as a tool")
            check("daemon.shutdown" not in names and "daemon.info" not in names, "admin methods listed")
            check(names <= catalog_names(), f"tools that are not in the catalog: {names - catalog_names()}")
            for spec in catalog_tools():
                params = spec["params_schema"]
                want_props = set(params.get("properties", {})) - {"env"}
                want_required = set(params.get("required", [])) - {"env"}
                for name in [spec["name"], *spec["aliases"]]:
                    tool = tools_by_name[name]
                    schema = tool.input_schema
                    jsonschema.Draft202012Validator.check_schema(schema)
                    check(schema["type"] == "object", f"{name}: {schema}")
                    props = set(schema.get("properties", {}))
                    check(want_props <= props, f"{name}: missing params {want_props - props}")
                    check("env" not in props, f"{name}: env is filled by the shim")
                    check(want_required <= set(schema.get("required", [])), f"{name}: required")
                    if spec["project_scoped"]:
                        check("path" in schema["required"], f"{name}: path must be required")
                        check("absolute" in schema["properties"]["path"]["description"].lower(), name)
                    check(tool.output_schema and tool.output_schema["type"] == "object", f"{name}: outputSchema")
                    jsonschema.Draft202012Validator.check_schema(tool.output_schema)
                    check(len(tool.description or "") > 40, f"{name}: description")
            missing = [n for n in SEED_TOOLS if n not in catalog_names()]
            for name in SEED_TOOLS:
                if name in catalog_names():
                    check(name in names, f"seed tool {name} is in the catalog but not listed")
            if missing:
                raise Skip(
                    "every catalog tool is listed with its schema; not in the catalog yet, so not "
                    f"checked: {', '.join(missing)}"
                )

        await run_check("initialize", initialize)
        await run_check("tools/list matches the catalog", list_tools)

        bundle = {}

        async def rust_elf():
            out = os.path.join(CFG["work"], "blink-flash-bundle.tar.gz")
            result = await session.call_tool(
                "build.rust_elf", {"elf_path": CFG["elf"], "target": "esp32c3", "out_path": out}
            )
            data = structured(result)
            check(data["bundle_path"] == out, data)
            check(os.path.getsize(out) == data["bundle_size_bytes"], data)
            check("Wrote the flash bundle" in texts(result), texts(result))
            with tarfile.open(out) as tar:
                manifest = json.load(tar.extractfile("manifest.json"))
                firmware = tar.extractfile("files/firmware.bin").read()
            check(manifest == data["manifest"], "manifest in the bundle differs from the result")
            check(manifest["build"]["target"] == "esp32c3", manifest)
            segment = manifest["flash"]["segments"][0]
            check(segment["offset"] == "0x0", segment)
            check(segment["sha256"] == hashlib.sha256(firmware).hexdigest(), "firmware sha256")
            info = await status_of(session, data["task_id"])
            check(info["status"] == "succeeded", info)
            bundle["task_id"] = data["task_id"]

        await run_check("build.rust_elf writes the bundle", rust_elf)

        async def errors():
            result = await session.call_tool("build.rust_elf", {"elf_path": CFG["elf"], "target": "esp99"})
            check(result.is_error, f"invalid target must be an error result: {result}")
            check("esp99" in texts(result), texts(result))
            check(result.structured_content["error"]["kind"] == "invalid_target", result.structured_content)
            result = await session.call_tool("build.status", {"task_id": UNKNOWN_TASK})
            check(result.is_error, result)
            check(UNKNOWN_TASK in texts(result) and "Hint: call task.list" in texts(result), texts(result))
            result = await session.call_tool("build.status", {"task_id": "nope"})
            check(result.is_error, result)
            result = await session.call_tool("generate_build_plan", {"path": "relative/dir"})
            check(result.is_error and "must be absolute" in texts(result), texts(result))
            result = await session.call_tool("generate_build_plan", {})
            check(result.is_error and "`path` is required" in texts(result), texts(result))
            try:
                await session.call_tool("no.such.tool", {})
            except MCPError as e:
                check(e.code == -32602, e)
            else:
                raise AssertionError("an unknown tool must be a JSON-RPC error")

        await run_check("daemon errors are isError results, misuse is a JSON-RPC error", errors)

        async def log_resource():
            if "task_id" not in bundle:
                raise Skip("build.rust_elf failed")
            templates = await session.list_resource_templates()
            check(
                [t.uri_template for t in templates.resource_templates] == ["build://log/{task_id}"],
                templates,
            )
            uri = f"build://log/{bundle['task_id']}"
            read = await session.read_resource(uri)
            content = read.contents[0]
            check(content.mime_type == "text/plain", content)
            check(content.meta["eof"] is True and content.meta["status"] == "succeeded", content.meta)
            listed = await session.list_resources()
            check(uri in [str(r.uri) for r in listed.resources], "the task's log is not listed")
            try:
                await session.read_resource(f"build://log/{UNKNOWN_TASK}")
            except MCPError as e:
                check(e.code == -32002, e)
            else:
                raise AssertionError("reading the log of an unknown task must fail")

        await run_check("build://log resource of a finished task", log_resource)

    updates = Updates()
    async with connect(handler=updates.handler) as (session, _):

        async def subscribe_finished():
            if "task_id" not in bundle:
                raise Skip("build.rust_elf failed")
            uri = f"build://log/{bundle['task_id']}"
            await session.subscribe_resource(uri)
            with anyio.fail_after(10):
                while not updates.by_uri.get(uri):
                    await anyio.sleep(0.05)
            await session.unsubscribe_resource(uri)

        await run_check("resources/subscribe on a finished task's log sends its update", subscribe_finished)

    async def no_daemon():
        env = {
            "ESPCTL_SOCKET": os.path.join(CFG["work"], "no-daemon", "d.sock"),
            "ESPCTLD_BIN": "/bin/false",
        }
        started = time.monotonic()
        async with connect(env) as (session, init):
            check(init.server_info.name == "espctl", init)
            listed = await session.list_tools()
            check(len(listed.tools) >= 7, listed)
            result = await session.call_tool("build.status", {"task_id": UNKNOWN_TASK})
            check(result.is_error, result)
            text = texts(result)
            check("cannot reach espctld" in text and "exited with code 1" in text, text)
            check(time.monotonic() - started < 30, "the failing start took too long")

    await run_check("without a daemon: initialize and tools/list answer, calls say why", no_daemon)

    await builds(tools_by_name)
    await planning_mode(tools_by_name)


async def builds(tools_by_name):
    reason = None
    if "build.start" not in tools_by_name:
        reason = "build.start is not in the catalog yet"
    elif not CFG.get("project"):
        reason = "the stand-in ESP-IDF is not available (cmake, ninja or a Python with kconfgen missing)"

    async def skipped():
        raise Skip(reason)

    if reason:
        for name in ("build.start, log subscription, build.status to succeeded",
                     "build.start with wait_secs reports progress",
                     "wait_secs that runs out, then build.cancel on the slow build",
                     "build.start with an invalid target"):
            await run_check(name, skipped)
        return

    project, target = CFG["project"], CFG["target"]
    updates = Updates()
    async with connect(handler=updates.handler) as (session, _):

        async def build_and_follow():
            started = structured(await session.call_tool("build.start", {"path": project, "target": target}))
            check(started["status"] in ("pending", "running"), started)
            task_id = started["task_id"]
            uri = f"build://log/{task_id}"
            await session.subscribe_resource(uri)
            info = await wait_final(session, task_id)
            check(info["status"] == "succeeded", info)
            with anyio.fail_after(10):
                while not updates.by_uri.get(uri):
                    await anyio.sleep(0.05)
            read = await session.read_resource(uri)
            check(read.contents[0].text.strip(), "the build log is empty")
            check(read.contents[0].meta["eof"] is True, read.contents[0].meta)
            page = await session.read_resource(f"{uri}?offset=0&limit=3")
            lines = page.contents[0].text.split("\n")
            check(len(lines) == 3 and page.contents[0].meta["next_offset"] == 3, page.contents[0])

        await run_check("build.start, log subscription, build.status to succeeded", build_and_follow)

        async def wait_with_progress():
            seen = []

            async def on_progress(progress, total, message):
                seen.append((progress, total, message))

            result = await session.call_tool(
                "build", {"path": project, "target": target, "clean": True, "wait_secs": 600},
                progress_callback=on_progress,
            )
            info = structured(result)
            check(info["status"] == "succeeded", info)
            check(seen, "no progress notification")
            values = [p for p, _, _ in seen]
            check(values == sorted(values) and len(set(values)) == len(values), values)
            check(seen[-1][0] == 100 and seen[-1][1] == 100, seen)

        await run_check("build.start with wait_secs reports progress", wait_with_progress)

        async def cancel_slow():
            # Every compile step sleeps 3 s, so a 2 s wait ends with the build still going: the
            # answer is its status then, and the build goes on.
            result = await session.call_tool(
                "build.start",
                {"path": CFG["slow_project"], "target": target, "wait_secs": 2,
                 "env": {"STANDIN_SLOW_MS": "3000"}},
            )
            started = structured(result)
            check(started["status"] in ("pending", "running"), started)
            check("kind" in started and "progress" in started, f"not a build.status answer: {started}")
            check("build://log/" in texts(result), texts(result))
            task_id = started["task_id"]
            with anyio.fail_after(120):
                while (await status_of(session, task_id))["status"] == "pending":
                    await anyio.sleep(0.2)
            canceled = structured(await session.call_tool("build.cancel", {"task_id": task_id}))
            check(canceled["status"] == "canceled", canceled)
            info = await wait_final(session, task_id, timeout=60)
            check(info["status"] == "canceled", info)

        await run_check("wait_secs that runs out, then build.cancel on the slow build", cancel_slow)

        async def invalid_target():
            result = await session.call_tool("build.start", {"path": project, "target": "esp99"})
            check(result.is_error and "esp99" in texts(result), texts(result))

        await run_check("build.start with an invalid target", invalid_target)


async def planning_mode(tools_by_name):
    async def planning():
        if "build" not in tools_by_name:
            raise Skip("build (build.start) is not in the catalog yet")
        if not CFG.get("project"):
            raise Skip("the stand-in ESP-IDF is not available")
        project = CFG["slow_project"]
        before = sorted(os.listdir(project))
        env = {"CONTROL_BASE_URL": "http://127.0.0.1:9", "MCP_AUTH_SECRET": None}
        async with connect(env) as (session, _):
            tasks_before = structured(await session.call_tool("task.list", {}))["tasks"]
            result = await session.call_tool("build", {"path": project, "target": CFG["target"]})
            data = structured(result)
            check(data["status"] == "planning", data)
            check("MCP_AUTH_SECRET" in data["reason"], data["reason"])
            check(data["plan"]["target"] == CFG["target"], data["plan"]["target"])
            check(data["plan"]["command_pipeline"], "the plan has no steps")
            check("Planning mode" in texts(result), texts(result))
            tasks_after = structured(await session.call_tool("task.list", {}))["tasks"]
            check(len(tasks_after) == len(tasks_before), "planning mode started a task")
        check(sorted(os.listdir(project)) == before, "planning mode changed the project directory")

    await run_check("planning mode with CONTROL_BASE_URL", planning)


if __name__ == "__main__":
    anyio.run(main)
    print(f"mcp: {results['passed']} passed, {results['failed']} failed, {results['skipped']} skipped")
    sys.exit(1 if results["failed"] else 0)
