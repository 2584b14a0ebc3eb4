package plan

// The releases the data VM installs (RenderDataVMStartScript), pinned here
// and nowhere else: version, download URL and the SHA-256 of the file at
// that URL. The start script refuses a download whose checksum differs.
// Every checksum below was taken from a public pin of the same file (named
// in the comment), never computed or guessed here; bumping a version means
// finding the published checksum of the new file.
//
// The Hetzner server types the schema allows (cx, cpx, ccx) are all
// x86-64, and an LXC container runs on its host's architecture, so only
// linux-amd64 builds are pinned.

// Release is one pinned download.
type Release struct {
	Service string
	Version string
	URL     string
	SHA256  string
}

// Neo4jJREPackage is the Ubuntu 24.04 package providing the Java runtime
// Neo4j 5.26 needs (it supports Java 17 and 21).
const Neo4jJREPackage = "openjdk-21-jre-headless"

// Neo4jJavaHome is where Neo4jJREPackage installs the runtime.
const Neo4jJavaHome = "/usr/lib/jvm/java-21-openjdk-amd64"

// DataReleases returns the pinned releases of the data services, keyed by
// service name (ServiceMinIO, ServiceNeo4j, ServiceQdrant).
func DataReleases() map[string]Release {
	return map[string]Release{
		// MinIO archived its community edition and dl.min.io answers 410
		// Gone since September 2026; the GitHub release assets of the last
		// community release stay published. Checksum: the sha256sum MinIO
		// published next to this asset, as pinned by apache/cloudberry
		// PR #1996 and canonical/lxd PR #19043 (both moved to these GitHub
		// assets after the 410) and by several public Dockerfiles/scripts
		// downloading this exact URL.
		ServiceMinIO: {
			Service: ServiceMinIO,
			Version: "RELEASE.2025-09-07T16-13-09Z",
			URL:     "https://github.com/minio/minio/releases/download/RELEASE.2025-09-07T16-13-09Z/minio.linux-amd64.RELEASE.2025-09-07T16-13-09Z",
			SHA256:  "7c5bd8512c6e966455b1d198209358b2d191c77a83ab377c4073281065fb855f",
		},
		// Neo4j 5.26 is the LTS line. Checksum: NEO4J_SHA256 of the
		// official Docker image neo4j:5.26.16-community (Dockerfile as
		// listed in docker-library/repo-info repos/neo4j/tag-details.md,
		// built 14 Nov 2025), which verifies this tarball.
		ServiceNeo4j: {
			Service: ServiceNeo4j,
			Version: "5.26.16",
			URL:     "https://dist.neo4j.org/neo4j-community-5.26.16-unix.tar.gz",
			SHA256:  "7b7849183fd816b0527bcb737f013ee2e26a20f33289d7493cc62f1c12445bd0",
		},
		// Qdrant publishes no checksum file; this is the SHA-256 of the
		// release asset as GitHub reports it, pinned identically by several
		// independent public projects that download this exact URL and
		// check it with sha256sum (install scripts, Dockerfiles and tests
		// found with the code search; the go client in go.mod is 1.17, the
		// server 1.19 speaks its API).
		ServiceQdrant: {
			Service: ServiceQdrant,
			Version: "1.19.1",
			URL:     "https://github.com/qdrant/qdrant/releases/download/v1.19.1/qdrant-x86_64-unknown-linux-gnu.tar.gz",
			SHA256:  "eef986e769d4d3e806dd2d546e1b4ecdd416211e54d34b4ed764fac7c58e1085",
		},
	}
}
