package cli

import (
	"fmt"
	"os"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/agentvdc/agentvdc/reconciler/api"
)

// The invoice commands talk to the running daemon: it holds the metered
// usage and the customers' tiers.
func newInvoicesCmd(e *env) *cobra.Command {
	c := &cobra.Command{Use: "invoices", Short: "Issue, list, show and credit monthly invoices (through the running daemon)"}
	var f oncallFlags
	register := func(cmd *cobra.Command) *cobra.Command {
		f.register(cmd)
		return cmd
	}
	var month, customer string
	var dryRun bool
	issue := register(&cobra.Command{
		Use:   "issue --month YYYY-MM",
		Short: "Issue the invoices of an ended month: list price + metered overage + tax, numbered in sequence, immutable",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if month == "" {
				return withCode(ExitUsage, fmt.Errorf("--month YYYY-MM is required"))
			}
			cl, err := f.client(e)
			if err != nil {
				return err
			}
			res, err := cl.IssueInvoices(cmd.Context(), api.IssueRequest{Month: month, Customer: customer, DryRun: dryRun})
			if err != nil {
				return f.daemonErr(cl, err)
			}
			if f.format == "json" {
				return f.writeJSON(e.stdout, res)
			}
			tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "CUSTOMER\tNUMBER\tTOTAL\tNOTE")
			failed := 0
			for _, r := range res {
				number, note := r.Invoice.Number, r.Invoice.Note
				if dryRun {
					number = "(dry run)"
				}
				if r.Error != "" {
					number, note = "-", r.Error
					failed++
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", r.Customer, number, oncallUSD(r.Invoice.TotalUSD), note)
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			if failed > 0 {
				return fmt.Errorf("%d of %d invoices not issued", failed, len(res))
			}
			return nil
		},
	})
	issue.Flags().StringVar(&month, "month", "", "the month to invoice, YYYY-MM (UTC); it must have ended")
	issue.Flags().StringVar(&customer, "customer", "", "only this customer (default every customer in git)")
	issue.Flags().BoolVar(&dryRun, "dry-run", false, "compute and print, store nothing")

	var listCustomer string
	list := register(&cobra.Command{
		Use:   "list [NAME]",
		Short: "List invoices and credit notes",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				listCustomer = args[0]
			}
			cl, err := f.client(e)
			if err != nil {
				return err
			}
			invs, err := cl.Invoices(cmd.Context(), listCustomer)
			if err != nil {
				return f.daemonErr(cl, err)
			}
			if f.format == "json" {
				return f.writeJSON(e.stdout, invs)
			}
			tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "NUMBER\tKIND\tCUSTOMER\tMONTH\tISSUED\tTOTAL\tREVERSES\tPAYMENT")
			for _, i := range invs {
				pay := "-"
				if i.Payment != nil {
					pay = i.Payment.Status
				}
				if i.Overdue {
					pay += " (OVERDUE)"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", i.Number, i.Kind, i.Customer, i.Month, i.IssuedAt.Format("2006-01-02"), oncallUSD(i.TotalUSD), oncallDash(i.Reverses), pay)
			}
			return tw.Flush()
		},
	})

	var output string
	show := register(&cobra.Command{
		Use:   "show NUMBER [--format json|html|pdf] [-o FILE]",
		Short: "Print or save one invoice or credit note as JSON, HTML or PDF",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			format := f.format
			if format == "text" {
				format = "json"
			}
			if format != "json" && format != "html" && format != "pdf" {
				return withCode(ExitUsage, fmt.Errorf("--format must be json, html or pdf, not %q", f.format))
			}
			if format == "pdf" && output == "" {
				return withCode(ExitUsage, fmt.Errorf("--format pdf needs -o FILE"))
			}
			f.format = "text"
			cl, err := f.client(e)
			if err != nil {
				return err
			}
			w := e.stdout
			if output != "" {
				file, err := os.OpenFile(output, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
				if err != nil {
					return err
				}
				defer file.Close()
				w = file
			}
			if err := cl.InvoiceDocument(cmd.Context(), args[0], format, w); err != nil {
				return f.daemonErr(cl, err)
			}
			return nil
		},
	})
	show.Flags().StringVarP(&output, "output", "o", "", "write to FILE instead of standard output")

	var note string
	credit := register(&cobra.Command{
		Use:   "credit NUMBER --note TEXT",
		Short: "Reverse an issued invoice with a credit note (the month can then be invoiced again)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if note == "" {
				return withCode(ExitUsage, fmt.Errorf("--note is required: say why the invoice is credited"))
			}
			cl, err := f.client(e)
			if err != nil {
				return err
			}
			cn, err := cl.CreditInvoice(cmd.Context(), args[0], note)
			if err != nil {
				return f.daemonErr(cl, err)
			}
			if f.format == "json" {
				return f.writeJSON(e.stdout, cn)
			}
			fmt.Fprintf(e.stdout, "credit note %s reverses %s (%s)\n", cn.Number, cn.Reverses, oncallUSD(cn.TotalUSD))
			return nil
		},
	})
	credit.Flags().StringVar(&note, "note", "", "why the invoice is credited (printed on the credit note)")
	c.AddCommand(issue, list, show, credit)
	return c
}
