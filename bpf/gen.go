// Package bpf holds the kexecrec BPF programs (kexecrec.c, records.h) and
// their bpf2go-generated loader. The compiled object is committed so that a
// plain `go build` needs no clang; `go generate ./bpf` rebuilds it with
// pinned flags (same clang, same flags, same bytes), and
// .ci/check-bpf-generate fails when the committed object differs.
package bpf

//go:generate go tool bpf2go -cc clang-14 -strip llvm-strip-14 -cflags "-O2 -g -Wall -Werror -I/usr/include/x86_64-linux-gnu" -target amd64,arm64 -go-package bpf -type kr_hdr -type kr_enter -type kr_seg -type kr_segments -type kr_piece -type kr_payload_end -type kr_exit -type kr_file -type kr_caller -type kr_args -type kr_ancestor -type kr_loaded Kexecrec kexecrec.c
