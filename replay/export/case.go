// Package export writes what kexecrec found in captures into the formats
// of the DFIR tools investigators already use: a Timesketch timeline
// (JSONL) and a CASE/UCO provenance graph (JSON-LD, ontology 1.3.0). It
// consumes the same report.Evidence as the HTML and Markdown reports.
package export

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/kexecrec/kexecrec/replay"
	"github.com/kexecrec/kexecrec/replay/report"
)

// CASEContext maps the prefixes the CASE export uses to the namespaces of
// CASE/UCO 1.3.0. "kb" is this export's own namespace for node ids, which
// are derived from hashes so the same evidence always gets the same ids.
var CASEContext = map[string]string{
	"kb":                 "urn:kexecrec:",
	"case-investigation": "https://ontology.caseontology.org/case/investigation/",
	"uco-action":         "https://ontology.unifiedcyberontology.org/uco/action/",
	"uco-core":           "https://ontology.unifiedcyberontology.org/uco/core/",
	"uco-observable":     "https://ontology.unifiedcyberontology.org/uco/observable/",
	"uco-tool":           "https://ontology.unifiedcyberontology.org/uco/tool/",
	"uco-types":          "https://ontology.unifiedcyberontology.org/uco/types/",
	"uco-vocabulary":     "https://ontology.unifiedcyberontology.org/uco/vocabulary/",
	"xsd":                "http://www.w3.org/2001/XMLSchema#",
}

// node is one JSON-LD node; encoding/json writes its keys sorted, so the
// output is the same for the same evidence.
type node map[string]any

func ref(id string) node { return node{"@id": id} }

func typed(typ, value string) node { return node{"@type": typ, "@value": value} }

func integer(n uint64) node { return typed("xsd:integer", fmt.Sprint(n)) }

func dateTime(t time.Time) node {
	return typed("xsd:dateTime", t.UTC().Format("2006-01-02T15:04:05.999999999Z"))
}

// caseGraph builds the graph node by node, each id once.
type caseGraph struct {
	nodes []node
	seen  map[string]bool
}

func (g *caseGraph) add(n node) {
	id := n["@id"].(string)
	if g.seen[id] {
		return
	}
	g.seen[id] = true
	g.nodes = append(g.nodes, n)
}

// hashNode is the SHA-256 of some content, as a UCO Hash.
func (g *caseGraph) hashNode(sha string) string {
	id := "kb:hash-sha256-" + sha
	g.add(node{"@id": id, "@type": "uco-types:Hash",
		"uco-types:hashMethod": typed("uco-vocabulary:HashNameVocab", "SHA256"),
		"uco-types:hashValue":  typed("xsd:hexBinary", sha)})
	return id
}

// contentFile is a File known by its content: a ContentDataFacet with its
// size and SHA-256, and optionally a FileFacet with its name.
func (g *caseGraph) contentFile(id, sha string, size uint64, name, description string) {
	content := node{"@id": id + "-content", "@type": "uco-observable:ContentDataFacet",
		"uco-observable:sizeInBytes": integer(size)}
	if sha != "" {
		content["uco-observable:hash"] = []node{ref(g.hashNode(sha))}
	}
	facets := []node{content}
	if name != "" {
		facets = append(facets, node{"@id": id + "-file", "@type": "uco-observable:FileFacet",
			"uco-observable:fileName": name, "uco-observable:sizeInBytes": integer(size)})
	}
	n := node{"@id": id, "@type": "uco-observable:File", "uco-core:hasFacet": facets}
	if description != "" {
		n["uco-core:description"] = description
	}
	g.add(n)
}

// tool is kexecrec as a UCO Tool of one version.
func (g *caseGraph) tool(version string) string {
	id := "kb:tool-kexecrec-" + idPart(version)
	g.add(node{"@id": id, "@type": "uco-tool:Tool", "uco-core:name": "kexecrec",
		"uco-tool:version": version, "uco-tool:toolType": "forensic recorder and reader for Linux kexec"})
	return id
}

// idPart makes a string usable in a node id.
func idPart(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '-' {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	if b.Len() == 0 {
		return "unknown"
	}
	return b.String()
}

// CASE writes the evidence as a CASE/UCO 1.3.0 JSON-LD graph: each
// recording as an InvestigativeAction with kexecrec (the recorder's
// version) as instrument, the host as its object and the capture file as
// its result; the reading of the captures as a second InvestigativeAction
// with this kexecrec as instrument, the capture files as objects and each
// distinct payload as a result: a File with its SHA-256, size and what it is.
func CASE(w io.Writer, e *report.Evidence) error {
	g := &caseGraph{seen: map[string]bool{}}
	var captureIDs, payloadIDs []string
	for _, cp := range e.Captures {
		if cp.SHA256 == "" {
			continue // not even its bytes could be read: nothing to describe
		}
		fileID := "kb:capture-" + cp.SHA256
		captureIDs = append(captureIDs, fileID)
		desc := "kexecrec capture file"
		if !cp.Verify.Verified {
			desc += " (NOT verified: " + failedChecks(cp) + ")"
		}
		g.contentFile(fileID, cp.SHA256, uint64(cp.Size), report.Printable(cp.Path), desc)
		s := cp.Summary
		if s == nil || s.Host == nil {
			continue
		}
		h := s.Host
		hostID := "kb:host-" + idPart(h.MachineID+"-"+h.Hostname)
		g.add(node{"@id": hostID, "@type": "uco-observable:Computer",
			"uco-core:description": report.Printable(fmt.Sprintf("machine id %s, boot id %s, kernel %s %s, arch %s",
				h.MachineID, h.BootID, h.KernelRelease, h.KernelVersion, h.Arch)),
			"uco-core:hasFacet": []node{{"@id": hostID + "-spec", "@type": "uco-observable:ComputerSpecificationFacet",
				"uco-observable:hostname": report.Printable(h.Hostname)}}})
		action := node{"@id": "kb:recording-" + cp.SHA256, "@type": "case-investigation:InvestigativeAction",
			"uco-core:name": "kexec recording",
			"uco-core:description": report.Printable(fmt.Sprintf("kexecrec recorded %d kexec_load/kexec_file_load calls (attach mode %s, options %s)",
				s.Calls, h.AttachMode, optionsText(h.Options))),
			"uco-action:instrument": ref(g.tool(report.Printable(h.RecorderVersion))),
			"uco-action:object":     []node{ref(hostID)},
			"uco-action:result":     []node{ref(fileID)}}
		if !s.Span.RecordStart.IsZero() {
			action["uco-action:startTime"] = dateTime(s.Span.RecordStart)
		}
		if !s.Span.RecordEnd.IsZero() {
			action["uco-action:endTime"] = dateTime(s.Span.RecordEnd)
		}
		g.add(action)
		for _, p := range s.Payloads {
			if p.SHA256 == "" {
				continue
			}
			id := "kb:payload-" + p.SHA256
			payloadIDs = append(payloadIDs, id)
			g.contentFile(id, p.SHA256, p.Size, "", payloadText(p))
		}
	}
	if len(captureIDs) > 0 {
		version, _ := strings.CutPrefix(e.Tool, "kexecrec ")
		slices.Sort(payloadIDs)
		payloadIDs = slices.Compact(payloadIDs)
		reading := node{"@id": "kb:reading-" + idPart(strings.Join(captureIDs, "-")), "@type": "case-investigation:InvestigativeAction",
			"uco-core:name":         "kexec capture analysis",
			"uco-core:description":  "kexecrec read the capture files, verified them and identified every distinct payload",
			"uco-action:instrument": ref(g.tool(report.Printable(version))),
			"uco-action:object":     refs(captureIDs)}
		if len(payloadIDs) > 0 {
			reading["uco-action:result"] = refs(payloadIDs)
		}
		if !e.Generated.IsZero() {
			reading["uco-action:endTime"] = dateTime(e.Generated)
		}
		g.add(reading)
	}
	doc := map[string]any{"@context": CASEContext, "@graph": g.nodes}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(doc)
}

func refs(ids []string) []node {
	out := make([]node, len(ids))
	for i, id := range ids {
		out[i] = ref(id)
	}
	return out
}

func failedChecks(cp *report.Capture) string {
	if cp.Verify.Error != "" {
		return "unreadable"
	}
	var names []string
	for _, c := range cp.Verify.Checks {
		if !c.OK {
			names = append(names, c.Name)
		}
	}
	return "failed " + strings.Join(names, ", ")
}

func optionsText(o map[string]string) string {
	var kv []string
	for _, k := range slices.Sorted(maps.Keys(o)) {
		kv = append(kv, k+"="+o[k])
	}
	if len(kv) == 0 {
		return "none recorded"
	}
	return strings.Join(kv, " ")
}

// payloadText says what a payload is and how it was used.
func payloadText(p *replay.PayloadStat) string {
	what := p.What
	if what == "" {
		what = p.Type
	}
	if what == "" {
		what = "unidentified bytes"
	}
	s := fmt.Sprintf("kexec payload (%s): %s", strings.Join(p.Kinds, ", "), what)
	if p.KernelVersion != "" {
		s += "; kernel version " + p.KernelVersion
	}
	if !p.Complete {
		s += fmt.Sprintf("; TRUNCATED: %d of %d bytes captured", p.Size, p.Total)
	}
	return report.Printable(s)
}
