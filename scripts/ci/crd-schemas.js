#!/usr/bin/env node
/**
 * Turns CustomResourceDefinitions into the strict JSON schemas kubeconform reads
 * (`<out>/<group>/<kind>_<version>.json`, lower-case kind), as the offline set in ../shared/schemas was made:
 * every object that lists its properties refuses others (`additionalProperties: false`) unless the CRD
 * says it keeps unknown fields, and `x-kubernetes-int-or-string` becomes "a string or an integer".
 *
 *   node scripts/ci/crd-schemas.js OUT_DIR CRD.yaml...
 */
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const { parseAllDocuments } = require('yaml');

function strict(node) {
  if (Array.isArray(node)) return node.map(strict);
  if (node === null || typeof node !== 'object') return node;
  const out = {};
  for (const [key, value] of Object.entries(node)) out[key] = strict(value);
  if (out['x-kubernetes-int-or-string'] === true) {
    delete out.type;
    out.oneOf = [{ type: 'string' }, { type: 'integer' }];
  }
  if (out.properties && out.additionalProperties === undefined && out['x-kubernetes-preserve-unknown-fields'] !== true) {
    out.additionalProperties = false;
  }
  return out;
}

const [outDir, ...files] = process.argv.slice(2);
if (!outDir || files.length === 0) {
  console.error('usage: crd-schemas.js OUT_DIR CRD.yaml...');
  process.exit(2);
}
let written = 0;
for (const file of files) {
  for (const doc of parseAllDocuments(fs.readFileSync(file, 'utf8'))) {
    const crd = doc.toJS();
    if (!crd || crd.kind !== 'CustomResourceDefinition') continue;
    const { group, names, versions } = crd.spec;
    for (const version of versions) {
      if (!version.served || !version.schema?.openAPIV3Schema) continue;
      const target = path.join(outDir, group, `${names.kind.toLowerCase()}_${version.name}.json`);
      fs.mkdirSync(path.dirname(target), { recursive: true });
      fs.writeFileSync(target, JSON.stringify(strict(version.schema.openAPIV3Schema), null, 2) + '\n');
      written++;
    }
  }
}
if (written === 0) {
  console.error(`crd-schemas.js: no served CRD versions in ${files.join(', ')}`);
  process.exit(1);
}
