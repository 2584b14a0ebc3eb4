package embedded_test

import (
	"testing"

	"github.com/agentvdc/agentvdc/agents"
	"github.com/agentvdc/agentvdc/agents/embedded"
	"github.com/agentvdc/agentvdc/agents/storetest"
)

func TestObjectStoreConformance(t *testing.T) {
	storetest.TestObjectStore(t, func(t *testing.T) agents.ObjectStore {
		return embedded.NewDir(t.TempDir())
	})
}

func TestVectorStoreConformance(t *testing.T) {
	storetest.TestVectorStore(t, func(t *testing.T) agents.VectorStore {
		v := embedded.NewVectors(t.TempDir())
		t.Cleanup(func() { v.Close() })
		return v
	})
}

func TestGraphStoreConformance(t *testing.T) {
	storetest.TestGraphStore(t, func(t *testing.T) agents.GraphStore {
		g := embedded.NewGraph(t.TempDir())
		t.Cleanup(func() { g.Close() })
		return g
	})
}
