#!/usr/bin/env node
// Compile gridtwin's contracts with solc-js (offline) and write one artifact per contract.
//
//   node build.js              writes artifacts/<Contract>.json (committed: gridtwin needs no Node)
//   node build.js --out DIR    writes them to DIR instead (the freshness test compares the two)
//
// Every contract defined in src/*.sol gets an artifact with its ABI, creation bytecode and
// runtime bytecode, plus the compiler version and settings that produced them. Imports of
// "@openzeppelin/..." resolve to the pinned packages in node_modules.
"use strict";

const fs = require("fs");
const path = require("path");
const solc = require("solc");

const HERE = __dirname;
const SRC = path.join(HERE, "src");

// Changing a setting changes the bytecode: rebuild (`make contracts`) and commit the artifacts.
const SETTINGS = {
  optimizer: { enabled: true, runs: 10000 },
  viaIR: true,
  evmVersion: "cancun", // py-evm (eth-tester) and anvil both run it
  outputSelection: {
    "*": { "*": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object"] },
  },
};

function parseArgs(argv) {
  const args = { out: path.join(HERE, "artifacts") };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === "--out") args.out = path.resolve(argv[++i]);
    else throw new Error(`unknown argument: ${argv[i]}`);
  }
  return args;
}

function findImports(importPath) {
  const candidates = [path.join(HERE, importPath), path.join(HERE, "node_modules", importPath)];
  for (const file of candidates) {
    if (fs.existsSync(file)) return { contents: fs.readFileSync(file, "utf8") };
  }
  return { error: `not found: ${importPath} (run npm ci in settlement/chain/contracts)` };
}

function main() {
  const args = parseArgs(process.argv.slice(2));
  const started = process.hrtime.bigint();
  const sources = {};
  for (const name of fs.readdirSync(SRC).filter((f) => f.endsWith(".sol")).sort()) {
    sources[`src/${name}`] = { content: fs.readFileSync(path.join(SRC, name), "utf8") };
  }
  const input = { language: "Solidity", sources, settings: SETTINGS };
  const output = JSON.parse(solc.compile(JSON.stringify(input), { import: findImports }));
  // Errors anywhere, and warnings in our own sources, fail the build.
  const problems = (output.errors || []).filter(
    (e) => e.severity === "error" || (e.severity === "warning" && e.sourceLocation?.file in sources),
  );
  for (const e of output.errors || []) console.error(e.formattedMessage);
  if (problems.length) process.exit(1);

  fs.mkdirSync(args.out, { recursive: true });
  const written = [];
  for (const sourceName of Object.keys(sources)) {
    for (const [contractName, c] of Object.entries(output.contracts[sourceName] || {})) {
      const artifact = {
        contractName,
        sourceName,
        compiler: { name: "solc-js", version: solc.version(), settings: SETTINGS },
        abi: c.abi,
        bytecode: "0x" + c.evm.bytecode.object,
        deployedBytecode: "0x" + c.evm.deployedBytecode.object,
      };
      const file = path.join(args.out, `${contractName}.json`);
      fs.writeFileSync(file, JSON.stringify(artifact, null, 2) + "\n");
      written.push(`${contractName} (${c.evm.deployedBytecode.object.length / 2} bytes)`);
    }
  }
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  console.log(`solc ${solc.version()}: ${written.join(", ")} -> ${args.out} in ${ms.toFixed(0)} ms`);
}

main();
