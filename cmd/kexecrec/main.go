// Command kexecrec records every kexec_load and kexec_file_load call with the
// full bytes of what was loaded, and reads, verifies and compares captures.
package main

import (
	"os"
)

func main() {
	os.Exit(run(os.Args[1:], systemIO()))
}
