package embedded

import (
	"errors"
	"log/slog"
	"path/filepath"

	"github.com/agentvdc/agentvdc/agents"
)

// Stores bundles the embedded stores under one data dir.
type Stores struct {
	Root    string // DATA/agents
	Objects *Dir
	Vectors *Vectors
	Graph   *Graph
	State   *State
}

// Open returns the embedded stores under dataDir (they live in
// dataDir/agents/CUSTOMER). Files are opened lazily per customer.
func Open(dataDir string) *Stores {
	root := filepath.Join(dataDir, "agents")
	return &Stores{Root: root, Objects: NewDir(root), Vectors: NewVectors(root), Graph: NewGraph(root), State: NewState(root)}
}

// Deps returns agents.Deps wired to these stores with the default sparse
// embedder; set Dense on the result to add dense vectors.
func (s *Stores) Deps(log *slog.Logger) *agents.Deps {
	return &agents.Deps{Objects: s.Objects, Vectors: s.Vectors, Graph: s.Graph, State: s.State, Log: log}
}

// GapReportPath is where the learning agent writes customer's gap report.
func (s *Stores) GapReportPath(customer string) string {
	return filepath.Join(s.Root, customer, "gap-report.md")
}

// Close closes every open file.
func (s *Stores) Close() error {
	return errors.Join(s.Vectors.Close(), s.Graph.Close(), s.State.Close())
}
