"""Frame sources, and `open_source`, which picks one from the config's `source.uri`.

- "picamera2": the Pi camera, captured at `size` (`edge.sources.picamera`)
- "0", "1", ...: a webcam index; "rtsp://", "http://", "https://": a stream; any other
  text: a video file (`edge.sources.opencv`, needs the opencv extra)
- a plug-in's scheme (e.g. "synthetic:<scene>" from the lab) is opened by the bootstrap
  through `edge.plugins`, never here
"""

from __future__ import annotations

from edge.frames import FrameSource, SourceError

STREAM_SCHEMES = ("rtsp://", "rtsps://", "http://", "https://")


def open_source(
    uri: str,
    size: tuple[int, int],
    *,
    realtime: bool = False,
    fps: float | None = None,
    origin: float | None = None,
) -> FrameSource:
    """Build the source for `uri` delivering RGB frames of `size` (width, height).

    Nothing is opened yet: call `open()`. Raises SourceError with one sentence saying
    what to fix when the uri cannot name a source (an unknown scene, a bad size).
    `origin` is the epoch time of a file's (or scene's) first frame; default: at open.
    """
    width, height = size
    if width < 1 or height < 1:
        raise SourceError(f"capture size must be positive, got {width}x{height}")
    text = uri.strip()
    if not text:
        raise SourceError("source uri is empty; set [source] uri to 'picamera2', '0' or a path")
    if text == "picamera2":
        from edge.sources.picamera import PiCameraSource

        return PiCameraSource(size, fps=fps)
    from edge.sources.opencv import OpenCVSource

    if text.isdigit():
        return OpenCVSource(int(text), size, fps=fps)
    if text.lower().startswith(STREAM_SCHEMES):
        return OpenCVSource(text, size, fps=fps, live=True)
    return OpenCVSource(text, size, realtime=realtime, origin=origin)


__all__ = ["STREAM_SCHEMES", "open_source"]
