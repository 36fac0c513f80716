"""Methods that learn from videos: labels made from the frames' order and
colours (video colourisation, whose pointer tracks)."""

from keras_ssl.methods.video.video_colorization import VideoColorization, copy_colours_loss, copy_labels

__all__ = ["VideoColorization", "copy_colours_loss", "copy_labels"]
