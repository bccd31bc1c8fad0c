package credentials

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

// The API versions a plugin config may have, and a provider's exec API
// versions, as the kubelet v1.37 accepts them.
var (
	configAPIVersions = []string{"kubelet.config.k8s.io/v1", "kubelet.config.k8s.io/v1beta1", "kubelet.config.k8s.io/v1alpha1"}
	execAPIVersions   = []string{"credentialprovider.kubelet.k8s.io/v1", "credentialprovider.kubelet.k8s.io/v1beta1", "credentialprovider.kubelet.k8s.io/v1alpha1"}
)

// providerConfig is a CredentialProviderConfig file.
type providerConfig struct {
	APIVersion string         `json:"apiVersion"`
	Kind       string         `json:"kind"`
	Providers  []providerSpec `json:"providers"`
}

// providerSpec is one of a CredentialProviderConfig's providers.
type providerSpec struct {
	Name                 string           `json:"name"`
	MatchImages          []string         `json:"matchImages"`
	DefaultCacheDuration *metav1.Duration `json:"defaultCacheDuration"`
	APIVersion           string           `json:"apiVersion"`
	Args                 []string         `json:"args,omitempty"`
	Env                  []execEnvVar     `json:"env,omitempty"`
	TokenAttributes      *tokenAttributes `json:"tokenAttributes,omitempty"`
}

// execEnvVar is an environment variable a provider's plugin is given.
type execEnvVar struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// tokenAttributes asks for a pod's service account token; a static pod has
// none, so bosun only reads requireServiceAccount.
type tokenAttributes struct {
	ServiceAccountTokenAudience          string   `json:"serviceAccountTokenAudience"`
	CacheType                            string   `json:"cacheType"`
	RequireServiceAccount                *bool    `json:"requireServiceAccount"`
	RequiredServiceAccountAnnotationKeys []string `json:"requiredServiceAccountAnnotationKeys,omitempty"`
	OptionalServiceAccountAnnotationKeys []string `json:"optionalServiceAccountAnnotationKeys,omitempty"`
}

// readProviderConfig reads --image-credential-provider-config: a file, or a
// directory whose *.json, *.yaml and *.yml files are read in lexical order
// and their providers merged, as the kubelet does. Every problem is
// reported at once.
func readProviderConfig(path string) ([]providerSpec, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("credential provider config: %w", err)
	}
	files := []string{path}
	if fi.IsDir() {
		if files, err = configFiles(path); err != nil {
			return nil, err
		}
	}
	var specs []providerSpec
	for _, file := range files {
		data, err := readBounded(file, maxConfigSize)
		if err != nil {
			return nil, fmt.Errorf("credential provider config: %w", err)
		}
		var cfg providerConfig
		if err := yaml.UnmarshalStrict(data, &cfg); err != nil {
			return nil, fmt.Errorf("credential provider config %s: %w", file, err)
		}
		if !slices.Contains(configAPIVersions, cfg.APIVersion) || cfg.Kind != "CredentialProviderConfig" {
			return nil, fmt.Errorf("credential provider config %s: apiVersion %q kind %q, want kind CredentialProviderConfig of %s",
				file, cfg.APIVersion, cfg.Kind, strings.Join(configAPIVersions, ", "))
		}
		specs = append(specs, cfg.Providers...)
	}
	if err := validateProviders(specs); err != nil {
		return nil, fmt.Errorf("credential provider config %s: %w", path, err)
	}
	return specs, nil
}

// configFiles lists a config directory's *.json, *.yaml and *.yml files.
func configFiles(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("credential provider config: %w", err)
	}
	var files []string
	for _, e := range entries {
		switch filepath.Ext(e.Name()) {
		case ".json", ".yaml", ".yml":
			if !e.IsDir() {
				files = append(files, filepath.Join(dir, e.Name()))
			}
		}
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("credential provider config %s: no *.json, *.yaml or *.yml file", dir)
	}
	return files, nil
}

// validateProviders checks providers as the kubelet does: at least one;
// names unique, and usable as a file name in the bin dir; a known exec API
// version; at least one valid matchImages entry; a defaultCacheDuration of
// zero or more.
func validateProviders(specs []providerSpec) error {
	var errs []error
	if len(specs) == 0 {
		errs = append(errs, errors.New("providers: at least one is required"))
	}
	seen := map[string]bool{}
	for i, p := range specs {
		at := fmt.Sprintf("providers[%d]", i)
		switch {
		case p.Name == "", p.Name == ".", p.Name == "..", strings.ContainsAny(p.Name, "/ "):
			errs = append(errs, fmt.Errorf("%s.name %q: must be a file name without spaces", at, p.Name))
		case seen[p.Name]:
			errs = append(errs, fmt.Errorf("%s.name %q: duplicate", at, p.Name))
		}
		seen[p.Name] = true
		if !slices.Contains(execAPIVersions, p.APIVersion) {
			errs = append(errs, fmt.Errorf("%s.apiVersion %q: must be one of %s", at, p.APIVersion, strings.Join(execAPIVersions, ", ")))
		}
		if len(p.MatchImages) == 0 {
			errs = append(errs, fmt.Errorf("%s.matchImages: at least one is required", at))
		}
		for _, m := range p.MatchImages {
			if _, err := registryKey(m); err != nil {
				errs = append(errs, fmt.Errorf("%s.matchImages %q: not a valid image match", at, m))
			}
		}
		if p.DefaultCacheDuration == nil {
			errs = append(errs, fmt.Errorf("%s.defaultCacheDuration: required", at))
		} else if p.DefaultCacheDuration.Duration < 0 {
			errs = append(errs, fmt.Errorf("%s.defaultCacheDuration: must be zero or more", at))
		}
		if t := p.TokenAttributes; t != nil && (t.ServiceAccountTokenAudience == "" || t.RequireServiceAccount == nil) {
			errs = append(errs, fmt.Errorf("%s.tokenAttributes: serviceAccountTokenAudience and requireServiceAccount are required", at))
		}
	}
	return errors.Join(errs...)
}

// pluginPath is the executable of provider name in binDir.
func pluginPath(binDir, name string) (string, error) {
	file, err := exec.LookPath(filepath.Join(binDir, name))
	if err != nil {
		return "", fmt.Errorf("credential provider %s: %w", name, err)
	}
	return file, nil
}
