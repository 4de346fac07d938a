package replay

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/kexecrec/kexecrec/replay/identify"
)

// arm64Lines adds what an arm64 payload's identity says beyond its summary:
// the Image header (of a plain, compressed or zboot Image) and the device
// tree's machine, initrd range and seeds. Strings from the capture are
// quoted.
func arm64Lines(p *Payload, add func(k, v string)) {
	id := p.Identity
	where := fmt.Sprintf("%s %d: ", p.Kind, p.Index)
	if z := id.Zboot; z != nil {
		add("zboot", fmt.Sprintf("%s%s payload at 0x%x, %d bytes", where, strconv.Quote(z.CompType), z.PayloadOffset, z.PayloadSize))
	}
	if h := id.Arm64Image; h != nil {
		add("image", where+"arm64 Image "+h.Describe()+", placement "+h.Placement)
	}
	if dt := id.DeviceTree; dt != nil {
		add("dtb", where+DeviceTreeText(dt))
	}
}

// DeviceTreeText is a device tree in one line: machine, initrd range,
// seeds (its bootargs are the call's cmdline).
func DeviceTreeText(dt *identify.DeviceTree) string {
	var parts []string
	if dt.Model != "" {
		parts = append(parts, "model "+strconv.Quote(dt.Model))
	}
	if len(dt.Compatible) > 0 {
		q := make([]string, len(dt.Compatible))
		for i, c := range dt.Compatible {
			q[i] = strconv.Quote(c)
		}
		parts = append(parts, "compatible "+strings.Join(q, ","))
	}
	if dt.InitrdStart != nil && dt.InitrdEnd != nil {
		parts = append(parts, fmt.Sprintf("initrd 0x%x-0x%x", *dt.InitrdStart, *dt.InitrdEnd))
	} else {
		parts = append(parts, "no initrd")
	}
	for _, r := range dt.ElfCoreHdr {
		parts = append(parts, fmt.Sprintf("crash kernel: elfcorehdr 0x%x+0x%x", r.Start, r.Size))
	}
	if n := len(dt.UsableMemory); n > 0 {
		parts = append(parts, fmt.Sprintf("usable memory %d range(s) from 0x%x", n, dt.UsableMemory[0].Start))
	}
	if !dt.HasBootargs {
		parts = append(parts, "no bootargs")
	}
	parts = append(parts, dt.SeedText())
	return strings.Join(parts, ", ")
}

// arm64JumpText is where the arm64 purgatory goes after its check.
func arm64JumpText(j *identify.Arm64Jump) string {
	if j.IntoImage {
		return fmt.Sprintf("jumps to the Image at 0x%x (segment %d), dtb 0x%x (segment %d)", j.KernelEntry, j.KernelSegment, j.DTBAddr, j.DTBSegment)
	}
	return fmt.Sprintf("JUMPS ELSEWHERE: arm64_kernel_entry 0x%x is not the start of an Image segment", j.KernelEntry)
}

// DTBInitrdLine is the one-line verdict of the device tree's initrd range;
// a mismatch is loud, like the purgatory's.
func DTBInitrdLine(v *identify.InitrdVerdict) string {
	if v.Match {
		return fmt.Sprintf("MATCHES segment %d (dtb segment %d): %s", v.Segment, v.DTBSegment, v.Detail)
	}
	return fmt.Sprintf("MISMATCH (dtb segment %d): %s", v.DTBSegment, v.Detail)
}
