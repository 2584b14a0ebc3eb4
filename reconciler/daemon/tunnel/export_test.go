package tunnel

// Sweep runs the idle sweep now (the janitor runs it on a real-time
// ticker; tests drive a fake clock).
func (p *Pool) Sweep() { p.sweep() }
