// benchreport reads `go test -bench` output (several -count runs) on stdin and
// prints a Markdown table of the median of every metric per benchmark, so
// BENCHMARKS.md quotes medians from one run of the harness.
package main

import (
	"bufio"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
)

type key struct{ pkg, bench string }

func main() {
	vals := map[key]map[string][]float64{}
	var order []key
	units := map[key][]string{}
	pkg := ""
	sc := bufio.NewScanner(os.Stdin)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "pkg: ") {
			pkg = strings.TrimPrefix(line, "pkg: ")
			continue
		}
		f := strings.Fields(line)
		if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") {
			continue
		}
		if _, err := strconv.Atoi(f[1]); err != nil {
			continue
		}
		name := f[0]
		if i := strings.LastIndexByte(name, '-'); i > 0 {
			if _, err := strconv.Atoi(name[i+1:]); err == nil {
				name = name[:i] // drop the -GOMAXPROCS suffix
			}
		}
		k := key{pkg, name}
		if vals[k] == nil {
			vals[k] = map[string][]float64{}
			order = append(order, k)
		}
		for i := 2; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				continue
			}
			u := f[i+1]
			if _, seen := vals[k][u]; !seen {
				units[k] = append(units[k], u)
			}
			vals[k][u] = append(vals[k][u], v)
		}
	}
	fmt.Println("| package | benchmark | runs | median of each metric |")
	fmt.Println("|---|---|---|---|")
	for _, k := range order {
		var parts []string
		runs := 0
		for _, u := range units[k] {
			vs := vals[k][u]
			runs = max(runs, len(vs))
			parts = append(parts, fmt.Sprintf("%s %s", format(median(vs)), u))
		}
		fmt.Printf("| %s | %s | %d | %s |\n", strings.TrimPrefix(k.pkg, "github.com/kexecrec/kexecrec/"),
			strings.TrimPrefix(k.bench, "Benchmark"), runs, strings.Join(parts, ", "))
	}
}

func median(v []float64) float64 {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

func format(v float64) string {
	switch {
	case v >= 100:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case v >= 1:
		return strconv.FormatFloat(v, 'f', 2, 64)
	default:
		return strconv.FormatFloat(v, 'g', 3, 64)
	}
}
