package synth

import "github.com/kexecrec/kexecrec/bpf/layout"

// KexecLoadReadBack writes one successful kexec_load call with segs as the
// caller passed them and, before its exit, each segment read back from the
// kernel as BPF's readback emits it: a LOADED record, the bytes [0, bufsz)
// and the tail [bufsz, memsz). staged[i] is segment i's memsz bytes as the
// kernel holds them (nil: the segment gets status instead of bytes).
func (s *Writer) KexecLoadReadBack(segs []Segment, staged [][]byte, entry uint64, status uint32) error {
	id, t, err := s.loadEntry(segs, entry, layout.HookFentry)
	if err != nil {
		return err
	}
	for i, sg := range segs {
		bufsz := uint64(len(sg.Data))
		st := status
		if i >= len(staged) || staged[i] == nil {
			if st == layout.LSRead {
				st = layout.LSNoImage
			}
		}
		rec := layout.Loaded{Header: layout.Header{CallID: id, TimeNS: t + 400_030}, Index: uint16(i),
			NrSegments: uint16(len(segs)), Status: st, BufSz: bufsz, Mem: sg.Mem, MemSz: sg.MemSz}
		if st == layout.LSRead {
			k := staged[i]
			if err := s.w.WriteWholePayload(layout.PayloadEnd{Header: layout.Header{CallID: id, TimeNS: t + 400_010},
				Kind: layout.KindLoaded, Index: uint16(i), Source: layout.SrcKernelPages}, k[:bufsz]); err != nil {
				return err
			}
			// As BPF does: whole tail pages checked for zeros, only the
			// partial page after bufsz sent, unless a page is not zero.
			pageEnd := min((bufsz+4095)&^4095, uint64(len(k)))
			tail := k[bufsz:pageEnd]
			for p := pageEnd; p < uint64(len(k)); p += 4096 {
				if !allZero(k[p:min(p+4096, uint64(len(k)))]) {
					rec.TailFlags, rec.ZeroChecked, tail = layout.TFNonZero, 0, k[bufsz:]
					break
				}
				rec.ZeroChecked += 4096
			}
			if len(tail) > 0 {
				if err := s.w.WriteWholePayload(layout.PayloadEnd{Header: layout.Header{CallID: id, TimeNS: t + 400_020},
					Kind: layout.KindLoadedTail, Index: uint16(i), Source: layout.SrcKernelPages}, tail); err != nil {
					return err
				}
			}
		}
		if err := s.rec(rec.Marshal(le)); err != nil {
			return err
		}
	}
	return s.loadExit(id, t, layout.HookFentry)
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}
