package hetznersim

import (
	"sort"
	"strings"
	"testing"

	"github.com/hetznercloud/hcloud-go/v2/hcloud"
)

func TestParseSelector(t *testing.T) {
	labels := map[string]string{"env": "prod", "agentvdc.io/customer": "acme", "tier": ""}
	for _, tc := range []struct {
		sel     string
		match   bool
		wantErr string
	}{
		{"", true, ""},
		{"env=prod", true, ""},
		{"env==prod", true, ""},
		{" env = prod ", true, ""},
		{"env=dev", false, ""},
		{"env!=dev", true, ""},
		{"env!=prod", false, ""},
		{"missing!=x", true, ""},
		{"env", true, ""},
		{"missing", false, ""},
		{"!missing", true, ""},
		{"!env", false, ""},
		{"env in (dev,prod)", true, ""},
		{"env in(dev)", false, ""},
		{"env notin (dev,test)", true, ""},
		{"env notin (prod)", false, ""},
		{"missing notin (a)", true, ""},
		{"agentvdc.io/customer=acme,env=prod", true, ""},
		{"agentvdc.io/customer=acme,env=dev", false, ""},
		{"tier=", true, ""},
		{"env=prod,", false, "trailing ','"},
		{"env in (a", false, "missing ')'"},
		{"env in ()", false, "empty value"},
		{"env in a", false, "want '('"},
		{"env ~ a", false, "unexpected"},
		{"env like a", false, "unknown operator"},
		{"=a", false, "missing label key"},
		{"!", false, "missing label key"},
		{"env=a/b", false, "invalid label value"},
		{"-bad=a", false, "invalid label key"},
		{"env=prod env=dev", false, "want ','"},
	} {
		sel, err := parseSelector(tc.sel)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("%q: error %v, want containing %q", tc.sel, err, tc.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tc.sel, err)
			continue
		}
		if got := sel.matches(labels); got != tc.match {
			t.Errorf("%q matches = %v, want %v", tc.sel, got, tc.match)
		}
	}
}

// Every selector form through the real client's label_selector parameter.
func TestLabelSelectorThroughClient(t *testing.T) {
	h := newHarness(t, Options{})
	ctx := ctxT(t)
	h.createServer(t, "a", map[string]string{"env": "prod", "team": "x"})
	h.createServer(t, "b", map[string]string{"env": "dev", "team": "y"})
	h.createServer(t, "c", map[string]string{"env": "test"})
	h.createServer(t, "d", nil)
	for _, tc := range []struct{ sel, want string }{
		{"env=prod", "a"},
		{"env==dev", "b"},
		{"env!=prod", "b,c,d"},
		{"team", "a,b"},
		{"!team", "c,d"},
		{"env in (prod,test)", "a,c"},
		{"env notin (prod,test)", "b,d"},
		{"env,!team", "c"},
		{"env in (prod,dev),team!=y", "a"},
	} {
		list, err := h.client.Server.AllWithOpts(ctx, hcloud.ServerListOpts{ListOpts: hcloud.ListOpts{LabelSelector: tc.sel}})
		if err != nil {
			t.Fatalf("%q: %v", tc.sel, err)
		}
		var names []string
		for _, s := range list {
			names = append(names, s.Name)
		}
		sort.Strings(names)
		if got := strings.Join(names, ","); got != tc.want {
			t.Errorf("%q: got %q, want %q", tc.sel, got, tc.want)
		}
	}
	for _, bad := range []string{"env in (a", "env=", "=x", "a,,b"} {
		if bad == "env=" {
			continue // empty value is valid
		}
		_, _, err := h.client.Server.List(ctx, hcloud.ServerListOpts{ListOpts: hcloud.ListOpts{LabelSelector: bad}})
		mustAPIError(t, err, hcloud.ErrorCodeInvalidInput)
		var apiErr hcloud.Error
		if !errorsAs(err, &apiErr) {
			t.Fatalf("%q: not an hcloud.Error", bad)
		}
		d, ok := apiErr.Details.(hcloud.ErrorDetailsInvalidInput)
		if !ok || len(d.Fields) != 1 || d.Fields[0].Name != "label_selector" || len(d.Fields[0].Messages) == 0 {
			t.Errorf("%q: details %#v", bad, apiErr.Details)
		}
	}
}
