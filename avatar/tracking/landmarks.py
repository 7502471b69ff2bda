"""Named MediaPipe face-mesh landmark indices the solver measures, identified on the canonical mesh.

"Left" and "right" are the user's own: the user's left eye is the one on the image's right. Every index was
checked against mediapipe's canonical face model (x towards the user's left, y up, z out of the face) and
against tracker output on real faces (tests/integration/test_tracking.py keeps them honest).
"""

from __future__ import annotations

N_MESH = 468  # face-mesh points
N_LANDMARKS = 478  # with the 10 iris points added by refine_landmarks

# Face frame: rigid points that expressions barely move.
FOREHEAD = 10  # top of the mesh, mid-forehead at the hairline
NOSE_BRIDGE = 168  # between the eyes
NOSE_BASE = 2  # under the nose tip, where the septum meets the lip
CHEEK_RIGHT = 234  # face contour at eye level, image left
CHEEK_LEFT = 454  # face contour at eye level, image right

# Eyes: corners, then three upper-lid points and the three lower-lid points below them (same order).
RIGHT_EYE_OUTER = 33
RIGHT_EYE_INNER = 133
RIGHT_EYE_UPPER = (160, 159, 158)
RIGHT_EYE_LOWER = (144, 145, 153)
LEFT_EYE_OUTER = 263
LEFT_EYE_INNER = 362
LEFT_EYE_UPPER = (387, 386, 385)
LEFT_EYE_LOWER = (373, 374, 380)

# Irises (refine_landmarks only): a centre and four points on the rim.
RIGHT_IRIS_CENTER = 468
RIGHT_IRIS_RIM = (469, 470, 471, 472)
LEFT_IRIS_CENTER = 473
LEFT_IRIS_RIM = (474, 475, 476, 477)

# Brows: upper edge from outer to inner end; the inner ends are where a frown pulls them together.
RIGHT_BROW = (70, 63, 105, 66, 107)
LEFT_BROW = (300, 293, 334, 296, 336)
RIGHT_BROW_INNER = 107
LEFT_BROW_INNER = 336

# Mouth.
MOUTH_RIGHT = 61  # lip corner, image left
MOUTH_LEFT = 291  # lip corner, image right
UPPER_LIP_INNER = 13
LOWER_LIP_INNER = 14
UPPER_LIP_OUTER = 0
LOWER_LIP_OUTER = 17
CHIN = 152

# Points whose mean is "the face centre" for head_x/head_y: eye corners and the nose, none moved by the mouth.
CENTER_POINTS = (RIGHT_EYE_OUTER, RIGHT_EYE_INNER, LEFT_EYE_INNER, LEFT_EYE_OUTER, NOSE_BRIDGE, NOSE_BASE)
