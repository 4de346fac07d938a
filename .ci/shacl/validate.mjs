// Validates CASE/UCO JSON-LD documents against the CASE ontology's SHACL
// shapes. Usage: node validate.mjs ONTOLOGY_DIR EXPORT.jsonld...
// Shapes: case-<v>.ttl without its owl:imports (the import targets are in
// it already). Data: each export expanded from JSON-LD, plus the subclass
// hierarchy (case-<v>-subclasses.ttl) so that shapes targeting a class also
// reach its subclasses. Prints each violation; exits 1 when one does not
// conform, 2 on a usage or parse error.
import fs from 'node:fs'
import path from 'node:path'
import rdf from '@zazuko/env'
import jsonld from 'jsonld'
import { Parser } from 'n3'
import { Validator } from 'shacl-engine'
import { targetResolvers, validations } from 'shacl-engine/sparql.js'

const OWL_IMPORTS = 'http://www.w3.org/2002/07/owl#imports'

function parseInto (dataset, text, format) {
  for (const q of new Parser({ format }).parse(text)) {
    if (q.predicate.value !== OWL_IMPORTS) dataset.add(q)
  }
}

async function main () {
  const [ontoDir, ...files] = process.argv.slice(2)
  if (!ontoDir || files.length === 0) {
    console.error('usage: node validate.mjs ONTOLOGY_DIR EXPORT.jsonld...')
    process.exit(2)
  }
  const ttl = fs.readdirSync(ontoDir).filter(f => f.endsWith('.ttl'))
  const main = ttl.find(f => !f.includes('subclasses'))
  const sub = ttl.find(f => f.includes('subclasses'))
  if (!main || !sub) throw new Error(`${ontoDir}: want case-*.ttl and case-*-subclasses.ttl`)
  const shapes = rdf.dataset()
  parseInto(shapes, fs.readFileSync(path.join(ontoDir, main), 'utf8'), 'text/turtle')
  const subclasses = fs.readFileSync(path.join(ontoDir, sub), 'utf8')
  const validator = new Validator(shapes, { factory: rdf, targetResolvers, validations })
  let failed = 0
  for (const file of files) {
    const doc = JSON.parse(fs.readFileSync(file, 'utf8'))
    // No document loader: a remote @context would be an error, not a fetch.
    const nquads = await jsonld.toRDF(doc, {
      format: 'application/n-quads',
      documentLoader: url => { throw new Error(`remote context ${url} refused`) }
    })
    const data = rdf.dataset()
    parseInto(data, nquads, 'application/n-quads')
    const quads = data.size
    parseInto(data, subclasses, 'text/turtle')
    const report = await validator.validate({ dataset: data })
    const violations = report.results.filter(r => !r.severity || r.severity.value.endsWith('#Violation'))
    if (violations.length === 0) {
      console.log(`${file}: conforms (${quads} triples)`)
      continue
    }
    failed++
    console.log(`${file}: ${violations.length} violations`)
    for (const r of violations) {
      const msg = (r.message || []).map(m => m.value).join('; ')
      console.log(`  focus ${r.focusNode && r.focusNode.value} path ${r.path && r.path.map ? r.path.map(p => p.predicates ? p.predicates.map(x => x.value).join('|') : String(p)).join('/') : ''} value ${r.value && r.value.value}: ${msg} [${r.constraintComponent && r.constraintComponent.value}]`)
    }
  }
  process.exit(failed ? 1 : 0)
}

main().catch(err => { console.error(err.stack || String(err)); process.exit(2) })
