package agents

//go:generate go run ./internal/gencorpus -out ../testdata/agents/corpus
