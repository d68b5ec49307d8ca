"""KerasHub detectors: built from their config with random weights from the seed, exported as a SavedModel.

Runs in the exporter's venv (TensorFlow with Keras 3 and keras-hub); nothing is downloaded (no preset, no
kagglehub). Every consumer then loads the SavedModel with TensorFlow alone: it holds TensorFlow ops only.

The SavedModel's ``serving_default`` takes float ``images`` ``[batch, height, width, 3]`` with pixels 0-255 and
returns ``detection_boxes`` (yxyx, pixels), ``detection_scores``, ``detection_classes`` and ``num_detections``:
the detector's own decoding (``decode_predictions``: anchors, box deltas, its ``NonMaxSuppression``) runs inside
the signature, so drift compares decoded detections, not raw logits. KerasHub's ``NonMaxSuppression`` needs a
static batch size when traced, so the network runs on the whole batch and the decoding once per image
(``tf.map_fn``), which keeps the batch dynamic.
"""

from __future__ import annotations

from typing import Any

from .contract import ModelSpec

#: Classes of the random-weight head (a detector's class count only sizes its last layer)
NUM_CLASSES = 8
#: Detections kept per image; confidence threshold 0 so random weights still give detections to compare
MAX_DETECTIONS = 100


def build(model: ModelSpec, seed: int) -> Any:
    """The KerasHub detector ``model.architecture`` at ``model.input_size``, random weights from ``seed``."""
    import keras
    import keras_hub

    if model.architecture != "retinanet" or model.input_size is None:  # the matrix reader allows no other
        raise ValueError(f"{model.id}: a keras-hub model needs architecture retinanet and input_size")
    keras.utils.set_random_seed(seed)
    h, w = model.input_size
    # The smallest ResNet KerasHub accepts (its first stack has 64 filters), basic blocks, one per stack
    encoder = keras_hub.models.ResNetBackbone(
        input_conv_filters=[64], input_conv_kernel_sizes=[7], stackwise_num_filters=[64, 64, 128, 128],
        stackwise_num_blocks=[1, 1, 1, 1], stackwise_num_strides=[1, 2, 2, 2], block_type="basic_block",
        image_shape=(h, w, 3))
    backbone = keras_hub.models.RetinaNetBackbone(image_encoder=encoder, min_level=3, max_level=5, use_p5=False,
                                                  image_shape=(h, w, 3))
    decoder = keras_hub.layers.NonMaxSuppression(bounding_box_format="yxyx", from_logits=True,
                                                 confidence_threshold=0.0, max_detections=MAX_DETECTIONS)
    return keras_hub.models.RetinaNetObjectDetector(backbone=backbone, num_classes=NUM_CLASSES,
                                                    bounding_box_format="yxyx", prediction_decoder=decoder)


def serving_function(detector: Any, height: int, width: int) -> Any:
    """``images`` (float 0-255) -> decoded detections, the detector's own decoding per image."""
    import tensorflow as tf

    @tf.function(input_signature=[tf.TensorSpec([None, height, width, 3], tf.float32, name="images")])
    def serve(images: Any) -> dict[str, Any]:
        raw = detector(images / 255.0, training=False)  # KerasHub's image converters scale pixels to 0-1

        def decode(args: Any) -> Any:
            box, cls, image = args
            y = detector.decode_predictions({"bbox_regression": box[None], "cls_logits": cls[None]}, image[None])
            return (y["boxes"][0], y["confidence"][0], tf.cast(y["labels"][0], tf.float32),
                    tf.cast(y["num_detections"][0], tf.float32))

        boxes, scores, classes, num = tf.map_fn(decode, (raw["bbox_regression"], raw["cls_logits"], images),
                                                fn_output_signature=(tf.float32,) * 4)
        return {"detection_boxes": boxes, "detection_scores": scores, "detection_classes": classes,
                "num_detections": num}

    return serve


def export(model: ModelSpec, folder: str, seed: int) -> None:
    """Build the detector and write its SavedModel into ``folder`` (Keras 3's ``ExportArchive``)."""
    import keras

    detector = build(model, seed)
    h, w = model.input_size or (0, 0)
    archive = keras.export.ExportArchive()
    archive.track(detector)
    archive.add_endpoint(name="serving_default", fn=serving_function(detector, h, w))
    archive.write_out(folder, verbose=False)
