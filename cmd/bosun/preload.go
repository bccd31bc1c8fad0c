package main

import (
	"log/slog"
	"path/filepath"
	"strings"
	"time"

	"github.com/bosun-sh/bosun/imagepreload"
	"github.com/bosun-sh/bosun/sync"
)

// Events of --image-preload-dir.
const (
	eventImagesPreloaded    sync.EventType = "ImagesPreloaded"
	eventImagePreloadFailed sync.EventType = "ImagePreloadFailed"
)

// newPreloader returns the importer of --image-preload-dir, or nil when the
// flag is empty. An import wakes the loop so that pods waiting for the
// image start at once; both outcomes are events.
func newPreloader(f daemonFlags, loop *sync.Loop, log *slog.Logger) *imagepreload.Preloader {
	if f.imagePreloadDir == "" {
		return nil
	}
	return imagepreload.New(imagepreload.Config{
		Dir:       f.imagePreloadDir,
		StateFile: filepath.Join(f.rootDir, "image-preload.json"),
		Importer:  imagepreload.Containerd{Address: f.endpoint},
		Period:    f.fileCheck,
		Log:       log,
		OnImported: func(file string, images []string) {
			loop.History().Add(sync.Event{Time: time.Now(), Type: eventImagesPreloaded, File: file,
				Message: "imported " + strings.Join(images, ", ")})
			loop.ImagesArrived()
		},
		OnFailed: func(file string, err error) {
			loop.History().Add(sync.Event{Time: time.Now(), Type: eventImagePreloadFailed, File: file,
				Message: err.Error()})
		},
	})
}
