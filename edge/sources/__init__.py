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


def source_kind(uri: str) -> str:
    """What kind of source `uri` names, in words safe to publish (never the uri itself,
    which may hold a password or a path)."""
    text = uri.strip()
    if text == "picamera2":
        return "Pi camera"
    if text.isdigit():
        return "webcam"
    if text.lower().startswith(STREAM_SCHEMES):
        return "stream"
    from edge.plugins import plugin_uri

    plugin = plugin_uri(text)
    if plugin is not None:
        return f"{plugin.scheme} plug-in"
    return "video file"


def decode_size(source: object) -> tuple[int, int] | None:
    """The (width, height) frames exist at in this process before they are resized to
    the capture size, as the source reports it (`decode_size()`; a prefetching wrapper
    asks the source it wraps); None when the source cannot tell."""
    inner = getattr(source, "inner", source)
    probe = getattr(inner, "decode_size", None)
    size = probe() if callable(probe) else None
    if size is None:
        return None
    return (int(size[0]), int(size[1]))


def probe_decode_size(uri: str, size: tuple[int, int]) -> tuple[int, int] | None:
    """`decode_size` of the source `uri` names, for `headcount privacy`: a video file's
    header is read, the Pi camera delivers `size`; None for a webcam or a stream (the
    running sensor may hold the device, and a stream may take long to answer)."""
    kind = source_kind(uri)
    if kind == "Pi camera":
        return size
    if kind != "video file":
        return None
    try:
        return decode_size(open_source(uri, size))
    except SourceError:
        return None


__all__ = ["STREAM_SCHEMES", "decode_size", "open_source", "probe_decode_size", "source_kind"]
