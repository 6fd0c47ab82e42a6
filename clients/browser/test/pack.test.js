// `npm pack` produces the package, and a TypeScript application compiles against the types inside the tarball.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";

const PACKAGE_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const TSC = path.join(PACKAGE_DIR, "node_modules", "typescript", "bin", "tsc");
const manifest = JSON.parse(readFileSync(path.join(PACKAGE_DIR, "package.json"), "utf8"));

describe("npm pack", () => {
  let work;
  let packed;

  before(() => {
    work = mkdtempSync(path.join(tmpdir(), "tableau-token-broker-client-"));
    const out = execFileSync("npm", ["pack", "--json", "--pack-destination", work], {
      cwd: PACKAGE_DIR,
      encoding: "utf8",
      stdio: ["ignore", "pipe", "pipe"],
    });
    [packed] = JSON.parse(out);
  });
  after(() => rmSync(work, { recursive: true, force: true }));

  test("ships the sources, their types, the README and nothing else", () => {
    assert.equal(packed.name, "tableau-token-broker-client");
    assert.equal(packed.version, manifest.version);
    const files = packed.files.map((f) => f.path).sort();
    assert.deepEqual(files, [
      "README.md",
      "package.json",
      "src/embed.js",
      "src/errors.js",
      "src/index.d.ts",
      "src/index.js",
      "src/retry-after.js",
      "src/token-client.js",
    ]);
    assert.deepEqual(manifest.dependencies ?? {}, {}, "the package has no runtime dependencies");
  });

  for (const resolution of [
    { module: "ESNext", moduleResolution: "Bundler" },
    { module: "NodeNext", moduleResolution: "NodeNext" },
  ]) {
    test(`a TypeScript consumer compiles against the tarball's types (${resolution.moduleResolution})`, () => {
      const app = path.join(work, `app-${resolution.moduleResolution}`);
      const installed = path.join(app, "node_modules", "tableau-token-broker-client");
      mkdirSync(installed, { recursive: true });
      execFileSync("tar", ["-xzf", path.join(work, packed.filename), "-C", installed, "--strip-components=1"]);
      writeFileSync(path.join(app, "package.json"), JSON.stringify({ name: "consumer", private: true, type: "module" }));
      cpSync(path.join(PACKAGE_DIR, "test", "consumer", "consumer.ts"), path.join(app, "consumer.ts"));
      const tsconfig = {
        compilerOptions: {
          ...resolution,
          target: "ES2022",
          lib: ["ES2022", "DOM"],
          strict: true,
          noEmit: true,
          skipLibCheck: false,
          types: [],
        },
        files: ["consumer.ts"],
      };
      writeFileSync(path.join(app, "tsconfig.json"), JSON.stringify(tsconfig));
      try {
        execFileSync(process.execPath, [TSC, "-p", app], { cwd: app, encoding: "utf8", stdio: "pipe" });
      } catch (error) {
        assert.fail(`tsc --noEmit failed:\n${error.stdout}${error.stderr}`);
      }
    });
  }
});
