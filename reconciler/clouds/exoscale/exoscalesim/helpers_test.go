package exoscalesim

import (
	"sort"

	"github.com/agentvdc/agentvdc/reconciler/clouds/simctl"
)

// simFault is a rule on pattern answering status for the next times calls.
func simFault(pattern string, status, times int) simctl.Fault {
	f := simctl.Fault{Pattern: pattern, Times: times}
	if status != 0 {
		f.ErrorRate = 1
		f.Status = status
	}
	return f
}

func sortStrings(s []string) []string {
	sort.Strings(s)
	return s
}
