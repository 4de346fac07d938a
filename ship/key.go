package ship

import (
	"encoding/hex"
	"strconv"
	"strings"

	"github.com/kexecrec/kexecrec/format"
)

// ObjectKey is where a part with header h is stored under prefix:
// PREFIX/HOST/MACHINE-ID/BOOT-ID/SET-ID/PART.zst. Every element comes from
// the part's own header, so a part left unsent by an earlier boot lands
// under that boot. Elements are made safe as key segments (a hostile host
// name cannot climb out of its place or inject a separator).
func ObjectKey(prefix string, h format.Header) string {
	parts := []string{
		segment(h.Hostname),
		segment(h.MachineID),
		segment(h.BootID),
		segment(hex.EncodeToString(h.SetID[:])),
		strconv.FormatUint(uint64(h.Part), 10) + ".zst",
	}
	if prefix != "" {
		parts = append([]string{prefix}, parts...)
	}
	return strings.Join(parts, "/")
}

// segment keeps [A-Za-z0-9._-] and replaces anything else with '_'; an
// empty value or one of only dots becomes "unknown".
func segment(s string) string {
	if len(s) > 128 {
		s = s[:128]
	}
	b := []byte(s)
	for i, c := range b {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '.', c == '_', c == '-':
		default:
			b[i] = '_'
		}
	}
	if strings.Trim(string(b), ".") == "" {
		return "unknown"
	}
	return string(b)
}
