package replay

import "github.com/kexecrec/kexecrec/replay/identify"

// checkDTBInitrd sets call.DTBInitrd for a kexec_load call whose segments
// include an identified device tree naming an initrd range: the range
// must be the initrd segment kexec-tools loaded, or the next kernel reads
// its initramfs from somewhere else.
func checkDTBInitrd(call *Call) {
	if call.Syscall != "kexec_load" || len(call.Segments) == 0 {
		return
	}
	dtbSeg := -1
	var dt *identify.DeviceTree
	for _, s := range call.Segments {
		if p := s.Payload; p != nil && p.Identity != nil && p.Identity.DeviceTree != nil && p.Identity.DeviceTree.InitrdStart != nil {
			dtbSeg, dt = s.Index, p.Identity.DeviceTree
			break
		}
	}
	if dt == nil {
		return
	}
	segs := make([]identify.Segment, 0, len(call.Segments))
	for _, s := range call.Segments {
		segs = append(segs, identify.Segment{Index: s.Index, Mem: s.Mem, MemSz: s.MemSz, BufSz: s.BufSz})
	}
	if v, ok := identify.CheckInitrd(segs, dtbSeg, dt); ok {
		call.DTBInitrd = &v
	}
}
