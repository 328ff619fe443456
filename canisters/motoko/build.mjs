#!/usr/bin/env node
// Builds the Motoko test canisters offline with moc compiled to JavaScript
// (npm package `motoko`), in two flavours:
//
//   wasm32  motoko@3.x (npm alias `moc3`), library `base`: classic orthogonal
//           persistence, 32-bit memory, i32 ic0 pointers.
//   wasm64  motoko@4.x (npm alias `moc4`), library `core`: enhanced orthogonal
//           persistence, memory64, i64 ic0 pointers.
//
// Usage:
//   cd canisters/motoko && npm ci          # once; the only step that needs the network
//   node canisters/motoko/build.mjs <outdir> [--force]
//
// Writes, per canister <name> and flavour:
//   <outdir>/<name>_wasm32.wasm  <outdir>/<name>_wasm32.did
//   <outdir>/<name>_wasm64.wasm  <outdir>/<name>_wasm64.did
//
// Sources (every top-level .mo file is an actor; <name> is its file stem):
//   src/*.mo          compiled by both compilers (no library imports that
//                     differ between base and core)
//   src/wasm32/*.mo   compiled by motoko@3.x only (may import mo:base/...)
//   src/wasm64/*.mo   compiled by motoko@4.x only (may import mo:core/...)
//   .mo files in other subdirectories (e.g. src/lib/, src/wasm64/lib/) are
//   library modules: importable by relative path, never compiled on their own.
// A name must not be both shared and flavour-specific. When a canister exists
// in both flavours the two Candid interfaces must agree (argument names
// aside, which moc 1.x prints and moc 0.x does not), otherwise the build fails.
//
// An output is rebuilt only when it is missing or not newer than its actor
// source, the library modules it can see, this script or package-lock.json
// (which changes whenever a compiler version changes); moc.js needs seconds
// per actor. --force rebuilds everything. On a compile error moc's
// diagnostics go to stderr and the exit status is 1.
// No network is used: the base/core libraries come from the JSON bundled in
// each npm package and are loaded with loadPackage (installPackages would
// fetch from GitHub).

import { createRequire } from 'node:module';
import fs from 'node:fs';
import path from 'node:path';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const SRC = path.join(HERE, 'src');
const require = createRequire(import.meta.url);

const FLAVOURS = [
  { name: 'wasm32', pkg: 'moc3', lib: 'base', memory64: false },
  { name: 'wasm64', pkg: 'moc4', lib: 'core', memory64: true },
];
const FLAVOUR_DIRS = new Set(FLAVOURS.map((f) => f.name));
const EOP_SECTION = 'icp:private enhanced-orthogonal-persistence';

function fail(msg) {
  process.stderr.write(`build.mjs: ${msg}\n`);
  process.exit(1);
}

// ---- source discovery ------------------------------------------------------
const listMo = (dir) =>
  fs.existsSync(dir)
    ? fs.readdirSync(dir, { withFileTypes: true })
        .filter((e) => e.isFile() && e.name.endsWith('.mo'))
        .map((e) => path.join(dir, e.name))
        .sort()
    : [];

// All .mo files below `dir`, recursively.
function walkMo(dir) {
  const out = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...walkMo(p));
    else if (e.isFile() && e.name.endsWith('.mo')) out.push(p);
  }
  return out.sort();
}

// Library modules live in subdirectories; the flavour directories themselves
// are not libraries of the shared actors.
const libsOf = (dir, skip) =>
  fs.existsSync(dir)
    ? fs.readdirSync(dir, { withFileTypes: true })
        .filter((e) => e.isDirectory() && !skip.has(e.name))
        .flatMap((e) => walkMo(path.join(dir, e.name)))
    : [];

const stem = (p) => path.basename(p, '.mo');

// -> [{ flavour, name, src, files }]
function discoverJobs() {
  const shared = listMo(SRC);
  const sharedLibs = libsOf(SRC, FLAVOUR_DIRS);
  const jobs = [];
  for (const fl of FLAVOURS) {
    const dir = path.join(SRC, fl.name);
    const own = listMo(dir);
    const ownLibs = libsOf(dir, new Set());
    for (const p of own) {
      if (shared.some((s) => stem(s) === stem(p))) {
        fail(`${stem(p)} is both shared (src/${stem(p)}.mo) and flavour-specific (${path.relative(HERE, p)})`);
      }
    }
    for (const p of [...shared, ...own]) {
      const isShared = path.dirname(p) === SRC;
      jobs.push({
        flavour: fl,
        name: stem(p),
        src: p,
        // Everything the actor can import (a flavour-specific actor reaches
        // src/lib/... via ../lib/...): written to moc's virtual FS and used
        // as the freshness dependencies.
        files: [p, ...sharedLibs, ...(isShared ? [] : ownLibs)],
      });
    }
  }
  if (!jobs.length) fail(`no actors found under ${SRC}`);
  return jobs;
}

// ---- freshness -------------------------------------------------------------
const mtime = (p) => fs.statSync(p).mtimeMs;
const GLOBAL_DEPS = [fileURLToPath(import.meta.url), path.join(HERE, 'package-lock.json')]
  .filter((p) => fs.existsSync(p));

const outPaths = (out, job) => ({
  wasm: path.join(out, `${job.name}_${job.flavour.name}.wasm`),
  did: path.join(out, `${job.name}_${job.flavour.name}.did`),
});

function upToDate(out, job) {
  const { wasm, did } = outPaths(out, job);
  if (!fs.existsSync(wasm) || !fs.existsSync(did)) return false;
  const newestDep = Math.max(...[...job.files, ...GLOBAL_DEPS].map(mtime));
  return Math.min(mtime(wasm), mtime(did)) > newestDep;
}

// Write to a temporary name and rename, so an interrupted or concurrent build
// never leaves a truncated file that looks up to date.
function writeAtomic(p, data) {
  const tmp = `${p}.tmp-${process.pid}`;
  fs.writeFileSync(tmp, data);
  fs.renameSync(tmp, p);
}

// ---- compilers -------------------------------------------------------------
// moc.js keeps state between compilations in one instance: the same actor
// compiled after another one comes out with different bytes. Every actor is
// therefore compiled by a fresh compiler in its own worker thread, which also
// spreads the work over the cores (each compile is single-threaded).

// moc's virtual FS mirrors this directory, so relative imports resolve as on
// disk and diagnostics name src/... paths.
const vfsPath = (p) => path.relative(HERE, p).split(path.sep).join('/');

function formatDiagnostics(diags) {
  return diags
    .map((d) => {
      const sev = d.severity === 1 ? 'error' : d.severity === 2 ? 'warning' : 'info';
      const { line, character } = d.range.start;
      return `${d.source}:${line + 1}:${character + 1}: ${sev} ${d.code}: ${d.message}`;
    })
    .join('\n');
}

// Worker side: compile one actor, post { wasm, candid } or { error }.
function workerMain({ pkg, lib, files, entry }) {
  const mo = require(pkg);
  // The library bundled with the npm package; loadPackage writes its files to
  // moc's virtual FS under .node-motoko/<lib>/<version>/ and maps mo:<lib>/
  // there.
  mo.loadPackage(require(`${pkg}/packages/latest/${lib}.json`));
  for (const f of files) mo.write(vfsPath(f), fs.readFileSync(f, 'utf8'));
  let r;
  try {
    r = mo.wasm(entry, 'ic'); // { wasm: Uint8Array, candid: string, stable: string }
  } catch (e) {
    // The wrapper's exception only joins the messages; re-run the checker to
    // get file:line:col. Never rethrow: Node would print a line of the 3 MB
    // minified compiler.
    let error = e && e.message ? e.message : String(e);
    try {
      const diags = mo.check(entry);
      if (diags && diags.length) error = formatDiagnostics(diags);
    } catch {}
    parentPort.postMessage({ error });
    return;
  }
  parentPort.postMessage({ wasm: r.wasm, candid: r.candid });
}

function compile(job) {
  return new Promise((resolve) => {
    const w = new Worker(fileURLToPath(import.meta.url), {
      workerData: { pkg: job.flavour.pkg, lib: job.flavour.lib, files: job.files, entry: vfsPath(job.src) },
    });
    let result;
    w.on('message', (m) => { result = m; });
    w.on('error', (e) => { result = { error: e && e.message ? e.message.split('\n')[0] : String(e) }; });
    w.on('exit', () => resolve(result || { error: 'compiler worker exited without a result' }));
  });
}

// ---- output sanity check ---------------------------------------------------
// Guards against a compiler bump silently changing the flavour (e.g. a 3.x
// release defaulting to enhanced orthogonal persistence). Node 20's
// WebAssembly.Module rejects memory64, so the sections are walked by hand.
function wasmFacts(bytes) {
  let i = 8;
  const u = () => {
    let r = 0n, s = 0n, b;
    do { b = bytes[i++]; r |= BigInt(b & 0x7f) << s; s += 7n; } while (b & 0x80);
    return Number(r);
  };
  const name = () => { const n = u(); const t = Buffer.from(bytes.subarray(i, i + n)).toString('utf8'); i += n; return t; };
  const limits = () => { const f = bytes[i++]; u(); if (f & 1) u(); return f; };
  const facts = { customs: [], memFlags: [] };
  while (i < bytes.length) {
    const id = bytes[i++];
    const size = u();
    const end = i + size;
    if (id === 0) facts.customs.push(name());
    else if (id === 2) {
      for (let n = u(); n > 0; n--) {
        name(); name();
        const kind = bytes[i++];
        if (kind === 0) u();
        else if (kind === 1) { i++; limits(); }
        else if (kind === 2) facts.memFlags.push(limits());
        else if (kind === 3) i += 2;
        else if (kind === 4) { i++; u(); }
        else break;
      }
    } else if (id === 5) {
      for (let n = u(); n > 0; n--) facts.memFlags.push(limits());
    }
    i = end;
  }
  return facts;
}

// -> error text, or null when the module is of the job's flavour.
function flavourMismatch(job, wasm) {
  const f = wasmFacts(wasm);
  const is64 = f.memFlags.some((fl) => fl & 0x04);
  const eop = f.customs.includes(EOP_SECTION);
  if (f.memFlags.length && is64 === job.flavour.memory64 && eop === job.flavour.memory64) return null;
  return `${job.name}_${job.flavour.name}.wasm from ${job.flavour.pkg} has memory64=${is64} and ` +
    `'${EOP_SECTION}' section=${eop}; expected ${job.flavour.memory64} for both`;
}

// ---- Candid agreement between flavours -------------------------------------
// moc 1.x names arguments (`set : (n: nat) -> ()`), moc 0.x does not. Argument
// names are not part of the Candid type, so drop `name:` at the start of every
// element of a parenthesised tuple (records use braces and keep their field
// names), then compare whitespace-insensitively.
function normaliseDid(did) {
  let out = '';
  const stack = [];
  let elemStart = false;
  for (let i = 0; i < did.length; ) {
    const c = did[i];
    if (elemStart && stack.at(-1) === '(') {
      const m = /^\s*(?:[A-Za-z_][A-Za-z0-9_]*|"(?:[^"\\]|\\.)*")\s*:/.exec(did.slice(i));
      if (m) i += m[0].length;
      elemStart = false;
      continue;
    }
    if (c === '(' || c === '{') { stack.push(c); elemStart = true; }
    else if (c === ')' || c === '}') stack.pop();
    else if (c === ',' || c === ';') elemStart = true;
    out += c;
    i++;
  }
  return out.replace(/\s+/g, ' ').replace(/ ?([(){},;:]) ?/g, '$1').trim();
}

// ---- main ------------------------------------------------------------------
async function main() {
  const args = process.argv.slice(2);
  const force = args.includes('--force');
  const positional = args.filter((a) => !a.startsWith('--'));
  if (positional.length !== 1 || args.some((a) => a.startsWith('--') && a !== '--force')) {
    fail('usage: node build.mjs <outdir> [--force]');
  }
  const out = path.resolve(positional[0]);
  fs.mkdirSync(out, { recursive: true });
  const shown = (p) => (path.relative(process.cwd(), p).startsWith('..') ? p : path.relative(process.cwd(), p));

  const jobs = discoverJobs();
  const stale = jobs.filter((j) => force || !upToDate(out, j));
  for (const j of jobs) if (!stale.includes(j)) console.log(`up to date  ${shown(outPaths(out, j).wasm)}`);

  // Fail early with a hint instead of one error per worker.
  const versions = {};
  for (const fl of FLAVOURS) {
    try {
      versions[fl.pkg] = require(`${fl.pkg}/package.json`).version;
    } catch {
      if (stale.some((j) => j.flavour === fl)) fail(`${fl.pkg} is not installed; run \`npm ci\` in ${HERE}`);
    }
  }

  // Each worker holds a whole moc.js (a few hundred MB); one per core.
  const parallel = Math.max(1, Math.min(stale.length, os.availableParallelism?.() ?? os.cpus().length));
  const errors = [];
  let next = 0;
  async function runner() {
    while (next < stale.length) {
      const job = stale[next++];
      const t0 = Date.now();
      const r = await compile(job);
      if (r.error) {
        errors.push(`moc (${job.flavour.pkg} = motoko@${versions[job.flavour.pkg]}) failed on ${path.relative(HERE, job.src)}:\n${r.error}`);
        continue;
      }
      const bad = flavourMismatch(job, r.wasm);
      if (bad) { errors.push(bad); continue; }
      const { wasm, did } = outPaths(out, job);
      writeAtomic(did, r.candid);
      writeAtomic(wasm, r.wasm); // last: the .wasm is what callers look for
      console.log(`built       ${shown(wasm)}  (${r.wasm.length} bytes, motoko@${versions[job.flavour.pkg]}, ${((Date.now() - t0) / 1000).toFixed(1)} s)`);
    }
  }
  await Promise.all(Array.from({ length: parallel }, runner));
  if (errors.length) fail(errors.join('\n\n'));

  for (const name of [...new Set(jobs.map((j) => j.name))]) {
    const dids = jobs.filter((j) => j.name === name).map((j) => outPaths(out, j).did);
    if (dids.length < 2) {
      console.log(`note        ${name} exists in one flavour only`);
      continue;
    }
    const [a, b] = dids.map((p) => normaliseDid(fs.readFileSync(p, 'utf8')));
    if (a !== b) fail(`${name}: the Candid interfaces of the two flavours differ:\n  ${dids[0]}: ${a}\n  ${dids[1]}: ${b}`);
  }
  console.log(`${stale.length} built, ${jobs.length - stale.length} up to date, in ${out}`);
}

if (isMainThread) await main();
else workerMain(workerData);
