// The benchmark workload: a policy of 100 rules and a typical tool call that most of them
// look at (60 conditions are evaluated for it), or a policy and action given as files.

import { readFileSync } from 'node:fs';

/** 100 rules over 20 tools, in five shapes that a real policy mixes. */
export function generatedPolicy() {
  const rules = [];
  for (let i = 0; i < 100; i++) {
    switch (i % 5) {
      case 0: // another service's tools: rejected by the tool index
        rules.push({ id: `svc-${i}`, effect: 'deny', match: { tool: [`svc${i}.*`] } });
        break;
      case 1: // a path check on every file tool
        rules.push({ id: `no-secret-${i}`, effect: 'deny', match: { tool: ['fs.*'] }, when: { field: 'params.path', prefix: `/secret${i}/` } });
        break;
      case 2: // tenant and size checks
        rules.push({
          id: `read-${i}`,
          effect: 'allow',
          match: { tool: ['fs.read'] },
          when: { all: [{ field: 'context.tenant', in: ['acme', 'globex'] }, { field: 'params.options.limit', lte: 1000 }] },
        });
        break;
      case 3: // approvals on payments
        rules.push({ id: `pay-${i}`, effect: 'require_approval', match: { tool: ['payments.*'] }, when: { field: 'params.amount', gt: i } });
        break;
      default: // a regex on every agent's calls
        rules.push({ id: `tmp-${i}`, effect: 'deny', match: { agent: ['agent-*'] }, when: { field: 'params.path', matches: `^/tmp/x${i}/` } });
    }
  }
  return { portcullis: 1, name: 'bench-100', version: '1', default: 'deny', rules };
}

/** A typical call: a few params, one nested object, some context. */
export const benchAction = {
  tool: 'fs.read',
  agent: { id: 'agent-001' },
  params: { path: '/data/reports/q3.csv', encoding: 'utf-8', options: { limit: 100 } },
  context: { session: 's-42', tenant: 'acme' },
};

/** The policy and action: generated, or read from `policyPath` / `actionPath`. */
export function workload(policyPath, actionPath) {
  const policy = policyPath ? readFileSync(policyPath, 'utf8') : generatedPolicy();
  const action = actionPath ? JSON.parse(readFileSync(actionPath, 'utf8')) : benchAction;
  return { policy, action };
}

function percentiles(samples) {
  samples.sort();
  let total = 0;
  for (const sample of samples) total += sample;
  const at = (q) => samples[Math.min(samples.length - 1, Math.floor(q * samples.length))];
  return { p50: at(0.5), p99: at(0.99), mean: total / samples.length };
}

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

/**
 * Times single calls of each function in `variants` ({ label: fn }), `iterations` calls each,
 * split into `rounds` rounds that take turns, so a busy machine slows every variant alike.
 * Returns per label the median over rounds of the p50, p99 and mean, in nanoseconds.
 */
export function compare(variants, iterations, rounds = 5) {
  const labels = Object.keys(variants);
  const perRound = Math.max(1, Math.floor(iterations / rounds));
  for (const label of labels) for (let i = 0; i < Math.min(perRound, 20_000); i++) variants[label]();
  const results = Object.fromEntries(labels.map((label) => [label, []]));
  const samples = new Float64Array(perRound);
  for (let round = 0; round < rounds; round++) {
    for (const label of labels) {
      const fn = variants[label];
      for (let i = 0; i < perRound; i++) {
        const start = process.hrtime.bigint();
        fn();
        samples[i] = Number(process.hrtime.bigint() - start);
      }
      results[label].push(percentiles(samples));
    }
  }
  return Object.fromEntries(
    labels.map((label) => {
      const runs = results[label];
      return [label, { p50: median(runs.map((r) => r.p50)), p99: median(runs.map((r) => r.p99)), mean: median(runs.map((r) => r.mean)) }];
    }),
  );
}

/** Prints the rows of `compare`. */
export function printComparison(results) {
  for (const [label, stats] of Object.entries(results)) console.log(formatRow(label, stats));
}

export function formatRow(label, { p50, p99, mean }) {
  const us = (ns) => `${(ns / 1000).toFixed(2)} µs`.padStart(10);
  return `  ${label.padEnd(44)} p50 ${us(p50)}   p99 ${us(p99)}   mean ${us(mean)}`;
}
