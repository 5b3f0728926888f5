package visibility

import "github.com/foremanhq/foreman/engine"

// updateFacts lists the names of the updates x accepted and of those still
// running, and adds who sent them to actors.
func updateFacts(x *engine.Execution, actors *set) (names, pending []string) {
	all, open := newSet(), newSet()
	for _, u := range x.Updates {
		all.add(u.Name)
		actors.add(u.Identity)
		if !u.Completed && x.Status == engine.StatusRunning {
			open.add(u.Name)
		}
	}
	return all.list, open.list
}
