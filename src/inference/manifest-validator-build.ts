/**
 * Build step (`npm run build`): writes the manifest schema's Ajv validator as standalone code beside
 * manifest.js, so that no host compiles it at run time (100-150 ms on the thread of the first detect, and Ajv
 * itself is then never loaded). manifest.ts uses it only while its schema digest matches the schema file.
 */
import { writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import type { Ajv as AjvClass } from 'ajv';
import { AJV_OPTIONS, PRECOMPILED_VALIDATOR_URL, readManifestSchema } from './manifest.js';

const require = createRequire(import.meta.url);
const { Ajv } = require('ajv') as { Ajv: typeof AjvClass };
const standaloneCode = (require('ajv/dist/standalone') as { default: (ajv: AjvClass, validate: unknown) => string }).default;

const { text, sha256 } = readManifestSchema();
const ajv = new Ajv({ ...AJV_OPTIONS, code: { source: true } });
const code = standaloneCode(ajv, ajv.compile(JSON.parse(text) as object));
writeFileSync(fileURLToPath(PRECOMPILED_VALIDATOR_URL), `${code}\nmodule.exports.schemaSha256 = ${JSON.stringify(sha256)};\n`);
