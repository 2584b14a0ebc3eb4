package evaluate

import (
	"fmt"
	"io"
)

func formatLine(m Metrics) string {
	return fmt.Sprintf("recall@1 %.3f  recall@5 %.3f  recall@10 %.3f  MRR %.3f  nDCG@10 %.3f",
		m.Recall1, m.Recall5, m.Recall10, m.MRR, m.NDCG10)
}

// WriteText renders a Result for people: the two metric lines, the
// difference, then the queries whose answer was not ranked first.
func WriteText(w io.Writer, r Result) error {
	_, err := fmt.Fprintf(w, "documents %d (quarantined %d), chunks %d, queries %d, k %d\n", r.Documents, r.Quarantined, r.Chunks, r.System.Queries, r.K)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "%-14s %s\n", "system", formatLine(r.System))
	fmt.Fprintf(w, "%-14s %s\n", "bm25 baseline", formatLine(r.Baseline))
	fmt.Fprintf(w, "%-14s MRR %+.3f  recall@5 %+.3f  nDCG@10 %+.3f\n", "difference",
		r.System.MRR-r.Baseline.MRR, r.System.Recall5-r.Baseline.Recall5, r.System.NDCG10-r.Baseline.NDCG10)
	for _, m := range r.Misses {
		rank := "not in top k"
		if m.Rank > 0 {
			rank = fmt.Sprintf("rank %d", m.Rank)
		}
		if _, err := fmt.Fprintf(w, "miss (%s): %q want %s, got %s\n", rank, m.Query, m.Want, m.Top); err != nil {
			return err
		}
	}
	return nil
}
