package replay

// Summary counts of who made the calls: by executable path and by the
// oldest ancestor that is not an init (the login daemon, cron, a container
// runtime ...), from the caller facts read at syscall entry (or /proc).

// maxCallerKeys bounds the distinct executables and ancestors counted one
// by one (a hostile caller can make every path distinct); the rest are
// counted under otherCallers.
const maxCallerKeys = 1000

const otherCallers = "(other)"

// callerAcc accumulates Summary.ByExecutable and Summary.ByTopAncestor.
type callerAcc struct {
	byExe, byTop map[string]int
}

func (a *callerAcc) init() {
	if a.byExe == nil {
		a.byExe, a.byTop = map[string]int{}, map[string]int{}
	}
}

func countKey(m map[string]int, k string, n int) {
	if _, ok := m[k]; !ok && len(m) >= maxCallerKeys {
		k = otherCallers
	}
	m[k] += n
}

func (a *callerAcc) add(c *Call) {
	a.init()
	exe := "-"
	if c.Caller.Exe != "" {
		exe = sanitize(c.Caller.Exe)
	}
	countKey(a.byExe, exe, 1)
	top := TopAncestor(&c.Caller)
	if top == "" {
		top = "-" // no ancestry recorded (captures made before entry reads)
	}
	countKey(a.byTop, top, 1)
}

func (a *callerAcc) finish(s *Summary) {
	a.init()
	s.ByExecutable = sortedCounts(a.byExe)
	s.ByTopAncestor = sortedCounts(a.byTop)
}

// merge adds a finished file summary into a total's counts.
func (a *callerAcc) merge(s *Summary) {
	a.init()
	for _, c := range s.ByExecutable {
		countKey(a.byExe, c.Key, c.Calls)
	}
	for _, c := range s.ByTopAncestor {
		countKey(a.byTop, c.Key, c.Calls)
	}
}
