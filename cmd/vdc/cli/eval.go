package cli

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/agentvdc/agentvdc/agents/evaluate"
)

// newEvalCmd is `vdc eval`: quality measurements for operators and CI.
func newEvalCmd(e *env) *cobra.Command {
	c := &cobra.Command{
		Use:   "eval",
		Short: "Measure the agents' quality on labelled data",
	}
	c.AddCommand(newEvalRetrievalCmd(e))
	return c
}

func newEvalRetrievalCmd(e *env) *cobra.Command {
	var docs, queries, format string
	var k int
	var feedback bool
	c := &cobra.Command{
		Use:   "retrieval --docs DIR --queries FILE.tsv",
		Short: "Ingest DIR into a throwaway store, run the labelled queries, print recall@1/5/10, MRR, nDCG@10 and a whole-document BM25 baseline",
		Long: `Ingests every file under --docs into a temporary embedded store (removed
afterwards), runs each question of --queries through the query path and
through a plain whole-document BM25 baseline, and prints both.

FILE.tsv has one "question<TAB>document id[,id...]" per line; a document id
is the file's path under DIR without its extension; lines starting with #
are comments.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if format != "text" && format != "json" {
				return withCode(ExitUsage, fmt.Errorf("unknown --format %q (text or json)", format))
			}
			if docs == "" || queries == "" {
				return withCode(ExitUsage, fmt.Errorf("--docs and --queries are required"))
			}
			if k < 1 || k > 1000 {
				return withCode(ExitUsage, fmt.Errorf("--k must be 1..1000, got %d", k))
			}
			f, err := os.Open(queries)
			if err != nil {
				return err
			}
			qs, err := evaluate.ReadTSV(f)
			f.Close()
			if err != nil {
				return fmt.Errorf("%s: %w", queries, err)
			}
			if st, err := os.Stat(docs); err != nil || !st.IsDir() {
				return fmt.Errorf("--docs %s: not a directory", docs)
			}
			res, err := evaluate.Run(cmd.Context(), docs, qs, evaluate.Options{K: k, Feedback: feedback})
			if err != nil {
				return err
			}
			if format == "json" {
				enc := json.NewEncoder(e.stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(res)
			}
			return evaluate.WriteText(e.stdout, res)
		},
	}
	c.Flags().StringVar(&docs, "docs", "", "directory of documents to ingest")
	c.Flags().StringVar(&queries, "queries", "", "labelled questions (TSV)")
	c.Flags().IntVar(&k, "k", 10, "documents ranked per question")
	c.Flags().StringVar(&format, "format", "text", "output format: text or json")
	c.Flags().BoolVar(&feedback, "feedback", false, "turn on RM3 pseudo-relevance feedback")
	return c
}
