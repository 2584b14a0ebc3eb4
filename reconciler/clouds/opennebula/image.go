package opennebula

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/OpenNebula/one/src/oca/go/src/goca"
	dyn "github.com/OpenNebula/one/src/oca/go/src/goca/dynamic"
	"github.com/OpenNebula/one/src/oca/go/src/goca/schemas/image"
	"github.com/OpenNebula/one/src/oca/go/src/goca/schemas/marketplace"
	"github.com/OpenNebula/one/src/oca/go/src/goca/schemas/marketplaceapp"

	"github.com/agentvdc/agentvdc/plan"
)

// Image template attributes: FROM_APP and FROM_APP_NAME are oned's (an
// image allocated with FROM_APP=<app id> gets PATH, FORMAT, FROM_APP_NAME
// and FROM_APP_MD5 from the app: MarketPlaceApp::to_template, called by
// RequestManagerAllocate's ImageAllocate); the marketplace and version
// are the adapter's, since oned keeps neither.
const (
	tplFromApp        = "FROM_APP"
	tplFromAppName    = "FROM_APP_NAME"
	tplAppVersion     = "AGENTVDC_APP_VERSION"
	tplAppMarketplace = "AGENTVDC_MARKETPLACE"
)

// Image states (goca image.State) the adapter acts on.
const (
	imageReady  = int(image.Ready)
	imageError  = int(image.Error)
	imageLocked = int(image.Locked)
)

// createImage exports the pinned marketplace app into the image
// datastore the way `onemarketapp export` does (the Ruby OCA's
// MarketPlaceApp#export): the app's APPTEMPLATE64 plus NAME and
// FROM_APP=<app id>, allocated in the datastore. goca has no export call,
// so the adapter builds the same template. It then waits until oned has
// copied the image (LOCKED → READY): VMs deployed from a LOCKED image
// would wait for it in any case, and an ERROR image is reported here.
func (p *Provider) createImage(ctx context.Context, r plan.Resource, m marks, ids plan.Lookup) (plan.Resource, error) {
	a := r.Attrs
	dsid, err := ref(ids, plan.ONEDatastore, a["datastore"])
	if err != nil {
		return plan.Resource{}, err
	}
	if a["marketplace"] == "" || a["app"] == "" || a["app_version"] == "" {
		return plan.Resource{}, errors.New("marketplace, app and app_version are required")
	}
	app, err := p.findApp(ctx, a["marketplace"], a["app"], a["app_version"])
	if err != nil {
		return plan.Resource{}, err
	}
	// As the Ruby OCA does: the app's own template text first, then
	// NAME and FROM_APP (oned reads the first NAME, so an app template
	// naming the image is refused rather than silently winning).
	var appTmpl string
	if app.AppTemplate64 != "" {
		raw, err := base64.StdEncoding.DecodeString(app.AppTemplate64)
		if err != nil {
			return plan.Resource{}, fmt.Errorf("%w: app %d APPTEMPLATE64: %v", errMalformed, app.ID, err)
		}
		appTmpl = strings.TrimSpace(string(raw))
		if nameAttr.MatchString(appTmpl) {
			return plan.Resource{}, fmt.Errorf("%w: app %d's template sets NAME", errMalformed, app.ID)
		}
	}
	t := dyn.NewTemplate()
	t.AddPair("NAME", r.Name)
	t.AddPair(tplFromApp, app.ID)
	t.AddPair(tplAppMarketplace, a["marketplace"])
	t.AddPair(tplAppVersion, a["app_version"])
	m.addTo(t)
	tmpl := t.String()
	if appTmpl != "" {
		tmpl = appTmpl + "\n" + tmpl
	}
	out, err := p.allocate(ctx, r, m, "one.image.allocate", func(c *goca.Controller) (int, error) {
		return c.Images().Create(tmpl, uint(dsid))
	}, nil)
	if err != nil {
		return plan.Resource{}, err
	}
	id, _ := strconv.Atoi(out.ID)
	state := ""
	err = p.wait(ctx, "image "+out.ID+" READY", func(ctx context.Context) (bool, error) {
		var img *image.Image
		err := p.call(ctx, "one.image.info", func(c *goca.Controller, _ *callState) error {
			var err error
			img, err = c.Image(id).Info(false)
			return err
		})
		if err != nil {
			return false, err
		}
		state = imageStateName(img.StateRaw)
		if img.StateRaw == imageError {
			return false, fmt.Errorf("image %d is in state ERROR: %s", id, str(&img.Template.Template, "ERROR"))
		}
		return img.StateRaw != imageLocked && img.StateRaw != int(image.Init), nil
	})
	if err != nil && state == "ERROR" {
		// A failed import is removed, so the next apply imports again
		// (an ERROR image would otherwise match the catalogue forever).
		derr := p.call(ctx, "one.image.delete", func(c *goca.Controller, _ *callState) error { return c.Image(id).Delete() })
		if derr != nil && !isNoExists(derr) {
			return plan.Resource{}, fmt.Errorf("%w (and removing the failed image: %w)", err, derr)
		}
	}
	if err != nil {
		return plan.Resource{}, err
	}
	out.Outputs = map[string]string{plan.OutputState: state}
	return out, nil
}

// nameAttr finds a NAME attribute at the start of a template line.
var nameAttr = regexp.MustCompile(`(?mi)^\s*NAME\s*=`)

// findApp returns the app of the named marketplace with that name and
// version (one marketapppool call, one marketpool call).
func (p *Provider) findApp(ctx context.Context, market, name, version string) (*marketplaceapp.MarketPlaceApp, error) {
	var apps *marketplaceapp.Pool
	var markets *marketplace.Pool
	err := p.call(ctx, "one.marketapppool.info", func(c *goca.Controller, _ *callState) error {
		var err error
		apps, err = c.MarketPlaceApps().Info()
		return err
	})
	if err != nil {
		return nil, err
	}
	err = p.call(ctx, "one.marketpool.info", func(c *goca.Controller, _ *callState) error {
		var err error
		markets, err = c.MarketPlaces().Info()
		return err
	})
	if err != nil {
		return nil, err
	}
	mid := -1
	for _, mk := range markets.MarketPlaces {
		if mk.Name == market {
			mid = mk.ID
		}
	}
	if mid < 0 {
		return nil, fmt.Errorf("marketplace %q is not configured in oned", market)
	}
	var versions []string
	for i := range apps.MarketPlaceApps {
		app := &apps.MarketPlaceApps[i]
		if app.Name != name || app.MarketPlaceID == nil || *app.MarketPlaceID != mid {
			continue
		}
		if app.Version == version {
			return app, nil
		}
		versions = append(versions, app.Version)
	}
	if len(versions) > 0 {
		return nil, fmt.Errorf("marketplace %q has app %q only in versions %v, not %s (update plan.ONEImageAppVersion)", market, name, versions, version)
	}
	return nil, fmt.Errorf("marketplace %q has no app %q", market, name)
}

// imageResources converts the owned images.
func (s *snapshot) imageResources() []plan.Resource {
	var out owned
	dss := s.datastoreNames()
	for _, img := range s.images {
		t := &img.Template.Template
		m := marksFrom(t)
		ds := ""
		if img.DatastoreID != nil {
			ds = nameOf(dss, *img.DatastoreID)
		}
		r := res(plan.ONEImage, img.Name, img.ID, m, map[string]string{
			"datastore":   ds,
			"marketplace": str(t, tplAppMarketplace),
			"app":         str(t, tplFromAppName),
			"app_version": str(t, tplAppVersion),
		})
		r.Outputs = map[string]string{plan.OutputState: imageStateName(img.StateRaw)}
		out.add(r, m)
	}
	return out
}

func (s *snapshot) imageNames() map[int]string {
	return idNames(s.images, func(o *image.Image) (int, string) { return o.ID, o.Name })
}

// imageStateName is oned's name of an image state.
func imageStateName(st int) string {
	if st < int(image.Init) || st > int(image.LockUsedPers) {
		return "UNKNOWN"
	}
	return image.State(st).String()
}

// fetchImages reads the pool of images (every owner) into s.
func (p *Provider) fetchImages(ctx context.Context, s *snapshot) error {
	return p.call(ctx, "one.imagepool.info", func(c *goca.Controller, _ *callState) error {
		pool, err := c.Images().Info(-2, -1, -1)
		if err == nil {
			s.images = pool.Images
		}
		return err
	})
}
