#!/usr/bin/env node
// Validates the gateway's Kubernetes manifests without a cluster.
//
//   node eng/k8s/validate.mjs OVERLAY_DIR [OUT_DIR]
//
// Renders OVERLAY_DIR with `kubectl kustomize` (offline), parses every document with `yaml`, and validates each
// object against the Kubernetes OpenAPI schemas compiled into `kubernetes-models`. Prints one line per object
// ("OK Kind/name" or "FAIL Kind/name: reason") and exits 1 if any object fails (2 on a usage or tool error).
// When OUT_DIR is given, every ConfigMap's data["gateway.json"] is written to OUT_DIR/<configmap-name>.gateway.json
// so the gateway's own configuration validation can check it (tests/ProxyKestrel.Gateway.Tests/Kubernetes).
//
// Install the packages first: npm ci --prefix eng/k8s
import { execFileSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseAllDocuments } from "yaml";

import * as appsV1 from "kubernetes-models/apps/v1";
import * as autoscalingV2 from "kubernetes-models/autoscaling/v2";
import * as policyV1 from "kubernetes-models/policy/v1";
import * as coreV1 from "kubernetes-models/v1";

const models = {
  "apps/v1": appsV1,
  "autoscaling/v2": autoscalingV2,
  "policy/v1": policyV1,
  v1: coreV1,
};

// Checks kubernetes-models does not make (its schemas allow unknown fields and do not tie the parts together).
function crossChecks(objects) {
  const problems = [];
  const byKind = (kind) => objects.filter((o) => o.kind === kind);
  const configMaps = new Set(byKind("ConfigMap").map((o) => o.metadata.name));
  const deployments = byKind("Deployment");
  for (const d of deployments) {
    const id = `Deployment/${d.metadata.name}`;
    const pod = d.spec.template.spec;
    const labels = d.spec.template.metadata?.labels ?? {};
    for (const [k, v] of Object.entries(d.spec.selector.matchLabels ?? {})) {
      if (labels[k] !== v) problems.push(`${id}: selector ${k}=${v} does not match the pod template's labels`);
    }
    for (const vol of pod.volumes ?? []) {
      if (vol.configMap && !configMaps.has(vol.configMap.name)) {
        problems.push(`${id}: volume ${vol.name} names ConfigMap ${vol.configMap.name}, which is not rendered`);
      }
    }
    for (const c of pod.containers) {
      const sc = c.securityContext ?? {};
      if (!(sc.runAsNonRoot ?? pod.securityContext?.runAsNonRoot)) problems.push(`${id}/${c.name}: runAsNonRoot is not true`);
      if (sc.readOnlyRootFilesystem !== true) problems.push(`${id}/${c.name}: readOnlyRootFilesystem is not true`);
      if (sc.allowPrivilegeEscalation !== false) problems.push(`${id}/${c.name}: allowPrivilegeEscalation is not false`);
      if (!(sc.capabilities?.drop ?? []).includes("ALL")) problems.push(`${id}/${c.name}: capabilities do not drop ALL`);
      if (!c.resources?.requests?.cpu) problems.push(`${id}/${c.name}: no CPU request (the HPA needs one)`);
      const ports = new Map((c.ports ?? []).map((p) => [p.name, p.containerPort]));
      for (const probe of ["livenessProbe", "readinessProbe"]) {
        const port = c[probe]?.httpGet?.port;
        if (port === undefined) problems.push(`${id}/${c.name}: no httpGet ${probe}`);
        else if ((ports.get(port) ?? port) !== 8081) problems.push(`${id}/${c.name}: ${probe} is not on the admin port 8081`);
      }
      const args = c.args ?? [];
      const i = args.indexOf("--config");
      if (i < 0 || !(c.volumeMounts ?? []).some((m) => args[i + 1]?.startsWith(m.mountPath + "/"))) {
        problems.push(`${id}/${c.name}: --config does not point into a mounted volume`);
      }
      const sleep = c.lifecycle?.preStop?.sleep?.seconds ?? 0;
      if ((d.spec.template.spec.terminationGracePeriodSeconds ?? 30) < sleep + 30) {
        problems.push(`${id}: terminationGracePeriodSeconds is less than preStop sleep + DrainTimeout (30 s)`);
      }
    }
  }
  for (const s of byKind("Service")) {
    const selector = Object.entries(s.spec.selector ?? {});
    const hit = deployments.some((d) => selector.every(([k, v]) => d.spec.template.metadata?.labels?.[k] === v));
    if (!hit) problems.push(`Service/${s.metadata.name}: selector matches no Deployment's pods`);
    if (s.spec.type === "LoadBalancer" && s.spec.externalTrafficPolicy !== "Local") {
      problems.push(`Service/${s.metadata.name}: LoadBalancer without externalTrafficPolicy: Local`);
    }
  }
  for (const h of byKind("HorizontalPodAutoscaler")) {
    const t = h.spec.scaleTargetRef;
    if (!objects.some((o) => o.kind === t.kind && o.metadata.name === t.name)) {
      problems.push(`HorizontalPodAutoscaler/${h.metadata.name}: target ${t.kind}/${t.name} is not rendered`);
    }
  }
  return problems;
}

const [overlayArg, outArg] = process.argv.slice(2);
if (!overlayArg) {
  console.error("usage: node validate.mjs OVERLAY_DIR [OUT_DIR]");
  process.exit(2);
}

const overlay = resolve(overlayArg);
let rendered;
try {
  rendered = execFileSync("kubectl", ["kustomize", overlay], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
} catch (e) {
  console.error(`FAIL kubectl kustomize ${overlay}: ${e.code === "ENOENT" ? "kubectl is not installed" : (e.stderr || e.message).trim()}`);
  process.exit(2);
}

const objects = [];
let failed = 0;
for (const doc of parseAllDocuments(rendered)) {
  if (doc.errors.length > 0) {
    console.log(`FAIL YAML: ${doc.errors.map((x) => x.message).join("; ")}`);
    failed++;
    continue;
  }
  const obj = doc.toJS();
  if (obj === null || obj === undefined) continue;
  objects.push(obj);
}

if (objects.length === 0) {
  console.log(`FAIL ${overlay}: kustomize rendered no objects`);
  process.exit(1);
}

for (const obj of objects) {
  const id = `${obj.kind}/${obj.metadata?.name ?? "?"}`;
  const Model = models[obj.apiVersion]?.[obj.kind];
  if (!Model) {
    console.log(`FAIL ${id}: no schema for ${obj.apiVersion} ${obj.kind}`);
    failed++;
    continue;
  }
  try {
    new Model(obj).validate();
    console.log(`OK ${id} (${obj.apiVersion})`);
  } catch (e) {
    console.log(`FAIL ${id}: ${e.message}`);
    failed++;
  }
}

for (const problem of crossChecks(objects)) {
  console.log(`FAIL ${problem}`);
  failed++;
}

if (outArg) {
  const out = resolve(outArg);
  mkdirSync(out, { recursive: true });
  for (const cm of objects.filter((o) => o.kind === "ConfigMap" && o.data?.["gateway.json"] !== undefined)) {
    const file = join(out, `${cm.metadata.name}.gateway.json`);
    writeFileSync(file, cm.data["gateway.json"]);
    console.log(`WROTE ${file}`);
  }
}

console.log(`${objects.length} objects, ${failed} failed`);
process.exit(failed > 0 ? 1 : 0);
