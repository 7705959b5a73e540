"""Every configuration key the framework reads, with its default and meaning.

Names and defaults follow Scene-Graph-Benchmark.pytorch (SGB) and the EBM-SGG code, so a YAML
written for either loads unchanged. Keys that only configured features this project dropped
(apex, RetinaNet, FBNet, masks, keypoints, ...) live in ``compat.py``: they are accepted with a
warning and have no effect. Keys added by this project are marked "(new)".

Priority: command line > YAML > this file. ``get_cfg()`` returns a fresh clone of ``_C``.
"""

from yacs.config import CfgNode as CN

_C = CN()

# Version of this schema; bumped when a key is renamed (see compat.py).
_C.VERSION = 1

_C.MODEL = CN()
# Random left/right flip of training images (with boxes) at probability 0.5. SGB's transform
# flips regardless of this key (a bug we fix): here nothing flips unless FLIP_AUG is True.
# Keep it False when predicates have a left/right sense.
_C.MODEL.FLIP_AUG = False
# Build the relation head on top of the detector (scene graph training / testing).
_C.MODEL.RELATION_ON = False
# Add the energy loss of the EBM paper (Eq. 2, 4, 5) to relation training (new).
_C.MODEL.ENERGY_ON = False
# "cpu", "cuda" or "cuda:N". Under torchrun each rank uses cuda:LOCAL_RANK.
_C.MODEL.DEVICE = "cuda"
# Registry name of the whole model (META_ARCH_REGISTRY); only GeneralizedRCNN ships.
_C.MODEL.META_ARCHITECTURE = "GeneralizedRCNN"
# Class-agnostic box regression in the box predictor (4 outputs instead of 4 x NUM_CLASSES).
_C.MODEL.CLS_AGNOSTIC_BBOX_REG = False
# Weights loaded before training a detector, or the trained model evaluated by the test tools
# when OUTPUT_DIR holds no last_checkpoint. A local path; nothing is downloaded.
_C.MODEL.WEIGHT = ""
# Detector checkpoint loaded (with load_mapping into the relation feature extractors) at the
# start of relation training.
_C.MODEL.PRETRAINED_DETECTOR_CKPT = ""

# ---------------------------------------------------------------------------------------------
# Backbone
# ---------------------------------------------------------------------------------------------
_C.MODEL.BACKBONE = CN()
# Registry name in BACKBONES: "R-50-FPN", "R-101-FPN" (X-101-32x8d via RESNETS.NUM_GROUPS /
# WIDTH_PER_GROUP), "R-50-C4", "VGG-16", and the small CPU backbone "R-18-FPN".
_C.MODEL.BACKBONE.CONV_BODY = "R-50-C4"
# ResNet stages up to this index (1 = stem, 2 = res2, ...) get requires_grad=False.
_C.MODEL.BACKBONE.FREEZE_CONV_BODY_AT = 2

_C.MODEL.RESNETS = CN()
# 1 = ResNet, 32 = ResNeXt-32xd.
_C.MODEL.RESNETS.NUM_GROUPS = 1
# Bottleneck width per group in res2 (64 for ResNet, 8 for X-101-32x8d).
_C.MODEL.RESNETS.WIDTH_PER_GROUP = 64
# Put the stride in the first 1x1 conv (MSRA) instead of the 3x3 conv (Torch/FB style).
_C.MODEL.RESNETS.STRIDE_IN_1X1 = True
# Registry name of the residual block: "BottleneckWithFixedBatchNorm" or
# "BasicBlockWithFixedBatchNorm".
_C.MODEL.RESNETS.TRANS_FUNC = "BottleneckWithFixedBatchNorm"
# Registry name of the stem.
_C.MODEL.RESNETS.STEM_FUNC = "StemWithFixedBatchNorm"
# Dilation of res5 (1 or 2).
_C.MODEL.RESNETS.RES5_DILATION = 1
# Channels of the backbone output (FPN width for *-FPN bodies).
_C.MODEL.RESNETS.BACKBONE_OUT_CHANNELS = 256 * 4
# Output channels of res2; later stages double.
_C.MODEL.RESNETS.RES2_OUT_CHANNELS = 256
# Output channels of the stem.
_C.MODEL.RESNETS.STEM_OUT_CHANNELS = 64

_C.MODEL.FPN = CN()
# Apply ReLU after each FPN output conv.
_C.MODEL.FPN.USE_RELU = False

_C.MODEL.VGG = CN()
# Output channels of the VGG-16 conv body (conv5_3).
_C.MODEL.VGG.VGG16_OUT_CHANNELS = 512

# ---------------------------------------------------------------------------------------------
# RPN
# ---------------------------------------------------------------------------------------------
_C.MODEL.RPN = CN()
# One anchor size per FPN level when True, else all sizes on one stride-16 level.
_C.MODEL.RPN.USE_FPN = False
# Channels of the shared 3x3 conv of the RPN head.
_C.MODEL.RPN.RPN_MID_CHANNEL = 512
# Anchor sizes in pixels (one per level with FPN).
_C.MODEL.RPN.ANCHOR_SIZES = (32, 64, 128, 256, 512)
# Anchor strides (one per level with FPN).
_C.MODEL.RPN.ANCHOR_STRIDE = (16,)
# Anchor aspect ratios (h/w). VG configs use neural-motifs' (0.23, 0.63, 1.28, 3.15).
_C.MODEL.RPN.ASPECT_RATIOS = (0.5, 1.0, 2.0)
# Anchors crossing the image border by more than this many pixels are ignored in training
# (negative value keeps all).
_C.MODEL.RPN.STRADDLE_THRESH = 0
# Anchor-GT IoU at or above which an anchor is positive.
_C.MODEL.RPN.FG_IOU_THRESHOLD = 0.7
# Anchor-GT IoU below which an anchor is negative.
_C.MODEL.RPN.BG_IOU_THRESHOLD = 0.3
# Anchors sampled per image for the RPN loss.
_C.MODEL.RPN.BATCH_SIZE_PER_IMAGE = 256
# Target fraction of positive anchors in that sample.
_C.MODEL.RPN.POSITIVE_FRACTION = 0.5
# Top-scoring anchors kept per level before NMS (train / test).
_C.MODEL.RPN.PRE_NMS_TOP_N_TRAIN = 12000
_C.MODEL.RPN.PRE_NMS_TOP_N_TEST = 6000
# Proposals kept per level after NMS (train / test).
_C.MODEL.RPN.POST_NMS_TOP_N_TRAIN = 2000
_C.MODEL.RPN.POST_NMS_TOP_N_TEST = 1000
# NMS IoU threshold on proposals.
_C.MODEL.RPN.NMS_THRESH = 0.7
# Proposals with a side smaller than this (pixels) are removed.
_C.MODEL.RPN.MIN_SIZE = 0
# Proposals kept over all FPN levels (per image, or per batch if FPN_POST_NMS_PER_BATCH).
_C.MODEL.RPN.FPN_POST_NMS_TOP_N_TRAIN = 2000
_C.MODEL.RPN.FPN_POST_NMS_TOP_N_TEST = 2000
# Apply FPN_POST_NMS_TOP_N over the whole batch (maskrcnn-benchmark legacy) instead of per image.
_C.MODEL.RPN.FPN_POST_NMS_PER_BATCH = True
# Registry name of the RPN head.
_C.MODEL.RPN.RPN_HEAD = "SingleConvRPNHead"

# ---------------------------------------------------------------------------------------------
# ROI heads (box)
# ---------------------------------------------------------------------------------------------
_C.MODEL.ROI_HEADS = CN()
# Pool from FPN levels by box size.
_C.MODEL.ROI_HEADS.USE_FPN = False
# Proposal-GT IoU at or above which a proposal is foreground (also SGDet relation matching).
_C.MODEL.ROI_HEADS.FG_IOU_THRESHOLD = 0.5
# Proposal-GT IoU below which a proposal is background.
_C.MODEL.ROI_HEADS.BG_IOU_THRESHOLD = 0.3
# Box-coder weights (wx, wy, ww, wh) of the second stage.
_C.MODEL.ROI_HEADS.BBOX_REG_WEIGHTS = (10.0, 10.0, 5.0, 5.0)
# RoIs sampled per image for the box-head loss.
_C.MODEL.ROI_HEADS.BATCH_SIZE_PER_IMAGE = 256
# Target fraction of foreground RoIs.
_C.MODEL.ROI_HEADS.POSITIVE_FRACTION = 0.25
# Test: class scores at or below this are dropped.
_C.MODEL.ROI_HEADS.SCORE_THRESH = 0.01
# Test: per-class NMS IoU threshold.
_C.MODEL.ROI_HEADS.NMS = 0.3
# Test: boxes kept per class after NMS.
_C.MODEL.ROI_HEADS.POST_NMS_PER_CLS_TOPN = 300
# Test: each proposal keeps only its best surviving class (one box per proposal), as SGB.
_C.MODEL.ROI_HEADS.NMS_FILTER_DUPLICATES = False
# Test: detections kept per image.
_C.MODEL.ROI_HEADS.DETECTIONS_PER_IMG = 256

_C.MODEL.ROI_BOX_HEAD = CN()
# Registry name of the RoI feature extractor.
_C.MODEL.ROI_BOX_HEAD.FEATURE_EXTRACTOR = "FPN2MLPFeatureExtractor"
# Registry name of the box predictor ("FPNPredictor"; SGB's conv-head FastRCNNPredictor is dropped).
_C.MODEL.ROI_BOX_HEAD.PREDICTOR = "FPNPredictor"
# RoIAlign output size.
_C.MODEL.ROI_BOX_HEAD.POOLER_RESOLUTION = 14
# RoIAlign sampling ratio (0 = adaptive).
_C.MODEL.ROI_BOX_HEAD.POOLER_SAMPLING_RATIO = 0
# Scale of each pooled feature level (1 / stride).
_C.MODEL.ROI_BOX_HEAD.POOLER_SCALES = (1.0 / 16,)
# Object classes including background (151 for VG150).
_C.MODEL.ROI_BOX_HEAD.NUM_CLASSES = 81
# Width of the two fully connected layers (fc6, fc7).
_C.MODEL.ROI_BOX_HEAD.MLP_HEAD_DIM = 2048

# ---------------------------------------------------------------------------------------------
# Relation head
# ---------------------------------------------------------------------------------------------
_C.MODEL.ROI_RELATION_HEAD = CN()
# Registry name in RELATION_PREDICTORS: MotifPredictor, VCTreePredictor, IMPPredictor,
# TransformerPredictor, CausalAnalysisPredictor (see CAUSAL below).
_C.MODEL.ROI_RELATION_HEAD.PREDICTOR = "MotifPredictor"
# Registry name of the union-box feature extractor.
_C.MODEL.ROI_RELATION_HEAD.FEATURE_EXTRACTOR = "RelationFeatureExtractor"
# Union features pool all FPN levels (concatenated, then reduced by a 3x3 conv).
_C.MODEL.ROI_RELATION_HEAD.POOLING_ALL_LEVELS = True
# Predicate classes including background (51 for VG150).
_C.MODEL.ROI_RELATION_HEAD.NUM_CLASSES = 51
# Training: maximum sampled pairs per image.
_C.MODEL.ROI_RELATION_HEAD.BATCH_SIZE_PER_IMAGE = 64
# Training: maximum fraction of foreground pairs in that sample.
_C.MODEL.ROI_RELATION_HEAD.POSITIVE_FRACTION = 0.25
# Task switch: GT boxes (PredCls/SGCls) or detected boxes (SGDet).
_C.MODEL.ROI_RELATION_HEAD.USE_GT_BOX = True
# Task switch with GT boxes: GT labels (PredCls) or predicted labels (SGCls).
_C.MODEL.ROI_RELATION_HEAD.USE_GT_OBJECT_LABEL = False
# Dimension of the class-name word embeddings (GloVe 6B: 50/100/200/300).
_C.MODEL.ROI_RELATION_HEAD.EMBED_DIM = 200
# Dropout of the context encoders.
_C.MODEL.ROI_RELATION_HEAD.CONTEXT_DROPOUT_RATE = 0.2
# Hidden size of the context encoders.
_C.MODEL.ROI_RELATION_HEAD.CONTEXT_HIDDEN_DIM = 512
# Width of the pair representation multiplied with the union features.
_C.MODEL.ROI_RELATION_HEAD.CONTEXT_POOLING_DIM = 4096
# Layers of the object-context encoder.
_C.MODEL.ROI_RELATION_HEAD.CONTEXT_OBJ_LAYER = 1
# Layers of the edge-context encoder.
_C.MODEL.ROI_RELATION_HEAD.CONTEXT_REL_LAYER = 1
# Replace cross-entropy by label smoothing (epsilon 0.01) for relation and object losses.
_C.MODEL.ROI_RELATION_HEAD.LABEL_SMOOTHING_LOSS = False
# Epsilon of LABEL_SMOOTHING_LOSS (new; SGB hard-codes 0.01).
_C.MODEL.ROI_RELATION_HEAD.LABEL_SMOOTHING_EPSILON = 0.01
# Confidence penalty (Pereyra et al. 2017) on the predicate loss (new): loss_rel minus this
# weight times the mean entropy of the predicate distributions; 0 = plain cross-entropy. The
# baseline that tells "softer logits" apart from structure (docs/ENERGY.md).
_C.MODEL.ROI_RELATION_HEAD.CONFIDENCE_PENALTY = 0.0
# Multiply the pair context by the union-box features.
_C.MODEL.ROI_RELATION_HEAD.PREDICT_USE_VISION = True
# Add the frequency bias (log p(predicate | subject class, object class) from the train split).
_C.MODEL.ROI_RELATION_HEAD.PREDICT_USE_BIAS = True
# SGDet training: only pairs of overlapping proposals; images without overlapping relation
# pairs are dropped from the training split.
_C.MODEL.ROI_RELATION_HEAD.REQUIRE_BOX_OVERLAP = True
# SGDet training: maximum proposal pairs matched to one GT relation.
_C.MODEL.ROI_RELATION_HEAD.NUM_SAMPLE_PER_GT_REL = 4
# SGDet training: append GT boxes to the proposals.
_C.MODEL.ROI_RELATION_HEAD.ADD_GTBOX_TO_PROPOSAL_IN_TRAIN = False

_C.MODEL.ROI_RELATION_HEAD.TRANSFORMER = CN()
# TransformerPredictor: dropout, encoder layers for objects / edges, heads, FFN width, key and
# value widths per head.
_C.MODEL.ROI_RELATION_HEAD.TRANSFORMER.DROPOUT_RATE = 0.1
_C.MODEL.ROI_RELATION_HEAD.TRANSFORMER.OBJ_LAYER = 4
_C.MODEL.ROI_RELATION_HEAD.TRANSFORMER.REL_LAYER = 2
_C.MODEL.ROI_RELATION_HEAD.TRANSFORMER.NUM_HEAD = 8
_C.MODEL.ROI_RELATION_HEAD.TRANSFORMER.INNER_DIM = 2048
_C.MODEL.ROI_RELATION_HEAD.TRANSFORMER.KEY_DIM = 64
_C.MODEL.ROI_RELATION_HEAD.TRANSFORMER.VAL_DIM = 64

_C.MODEL.ROI_RELATION_HEAD.CAUSAL = CN()
# CausalAnalysisPredictor (Tang et al. 2020, "Unbiased SGG from Biased Training"; SGB's keys).
# Keep the moving averages of the "untreated" inputs that the counterfactual needs (context
# buffers untreated_obj/edg/dcd_feat exist only when True, as in SGB). Needed by EFFECT_TYPE.
_C.MODEL.ROI_RELATION_HEAD.CAUSAL.EFFECT_ANALYSIS = False
# How the vision, context and frequency branches are fused: "sum" (logits added; also trains
# each branch alone with the auxiliary losses) or "gate" (ctx * sigmoid(vis + frq + ctx_gate)).
_C.MODEL.ROI_RELATION_HEAD.CAUSAL.FUSION_TYPE = "sum"
# Context encoder of the causal head: "motifs", "vctree" or "vtranse".
_C.MODEL.ROI_RELATION_HEAD.CAUSAL.CONTEXT_LAYER = "motifs"
# The union-box extractor returns its mask ("spatial") branch separately (spatial_fc) and the
# context branch is multiplied by it; only CausalAnalysisPredictor accepts this.
_C.MODEL.ROI_RELATION_HEAD.CAUSAL.SEPARATE_SPATIAL = False
# Multiply the context branch by an embedding (spt_emb) of the 32-d pair box geometry.
_C.MODEL.ROI_RELATION_HEAD.CAUSAL.SPATIAL_FOR_VISION = False
# Test-time output: "none" (factual logits), "TDE" (total direct effect of the context),
# "NIE" (natural indirect effect of the object labels), "TE" (total effect). Not "none" needs
# EFFECT_ANALYSIS True (we raise; SGB silently returns the factual logits). See
# docs/RELATION_HEADS.md.
_C.MODEL.ROI_RELATION_HEAD.CAUSAL.EFFECT_TYPE = "none"

_C.MODEL.ROI_RELATION_HEAD.EBM = CN()
# Energy model widths (EBM names): image-graph node width, width of the EGNN node-to-edge
# messages (Eq. 8), scene-graph node-label and edge-label embedding widths (= EGNN node and edge
# state widths; the reference reads OBJ/REL_EMBED_DIM in place of the LABEL keys, a bug we fix),
# and the width of each pooled graph vector.
_C.MODEL.ROI_RELATION_HEAD.EBM.OBJ_EMBED_DIM = 512
_C.MODEL.ROI_RELATION_HEAD.EBM.REL_EMBED_DIM = 512
_C.MODEL.ROI_RELATION_HEAD.EBM.OBJ_LABEL_EMBED_DIM = 512
_C.MODEL.ROI_RELATION_HEAD.EBM.REL_LABEL_EMBED_DIM = 512
_C.MODEL.ROI_RELATION_HEAD.EBM.POOLING_DIM = 512
# Log energy/grad_ratio every this many training iterations (0 = never) (new): the norm of the
# energy losses' gradient on the relation logits over the task losses' (two extra
# torch.autograd.grad calls on the kept graph; docs/ENERGY.md "Diagnostics").
_C.MODEL.ROI_RELATION_HEAD.EBM.GRAD_RATIO_PERIOD = 20

# ---------------------------------------------------------------------------------------------
# Energy model, losses and sampler (EBM paper, Sections 3.2-3.4)
# ---------------------------------------------------------------------------------------------
_C.ENERGY_MODEL = CN()
# Registry name in ENERGY_MODELS.
_C.ENERGY_MODEL.META_ARCHITECTURE = "GraphEnergyModel"
# Registry name in ENERGY_LOSSES: ContrastiveDivergence (Eq. 2), SoftPlus, LogSumExp, Margin.
_C.ENERGY_MODEL.LOSS = "ContrastiveDivergence"
# lambda_r of Eq. 5: weight of the L2 energy regulariser of Eq. 4.
_C.ENERGY_MODEL.L2COEFF = 1.0
# lambda_e of Eq. 5: weight of the energy loss (new).
_C.ENERGY_MODEL.LOSS_WEIGHT = 1.0
# lambda_t of Eq. 5: weight of the relation head's task losses under energy training (new).
_C.ENERGY_MODEL.TASK_LOSS_WEIGHT = 1.0
# Temperature multiplying the energies inside the energy loss.
_C.ENERGY_MODEL.TEMP = 1.0
# Standard deviation of the noise added to one-hot GT states and image-graph features.
_C.ENERGY_MODEL.DATA_NOISE_VAR = 0.0001
# Message-passing rounds of the EGNN and of the image-graph GNN (new; 3 in the paper).
_C.ENERGY_MODEL.ITERS = 3
# alpha of Eq. 7: share of node-to-node messages against edge-to-node messages (new).
_C.ENERGY_MODEL.ALPHA = 0.5
# Neighbour aggregation of the EGNN / GGNN (new): "reference" = a node averages the nodes it
# points to and sums its incoming edges (EBM code); "sum" = Eq. 7 literally, sums over incoming
# neighbours for both node and edge messages; "mean" = degree-normalised Eq. 7, averages over
# incoming neighbours for both (isolated nodes get zeros; it cannot count edges).
_C.ENERGY_MODEL.MESSAGE_AGGREGATION = "reference"
# The positive graph of the energy loss (new): "gt" = GT boxes with only the GT relations as
# edges (EBM code); "matched" = the predicted graph's nodes and pairs (relation sampling incl.
# background pairs) with GT one-hot states, so E+ and E- differ in the states only, not in the
# number of edges (docs/ENERGY.md, "Positive graph").
_C.ENERGY_MODEL.POSITIVE_GRAPH = "gt"
# Feed the image graph to the energy model (False = the paper's "No-Image-Graph" ablation) (new).
_C.ENERGY_MODEL.USE_IMAGE_GRAPH = True
# Which edges a node's edge-to-node message collects (new): "incoming" (Eq. 7, the EBM code) or
# "both" (incoming and outgoing edges through separate kernels, so a node can count what it
# points to); summed or averaged as MESSAGE_AGGREGATION says; scene graph only.
_C.ENERGY_MODEL.EDGE_DIRECTIONS = "incoming"
# Readout of nodes and edges (Eq. 9-10) (new): "sum" (the paper) or "mean" (per image, so the
# number of nodes and edges does not move the pooled vector by itself).
_C.ENERGY_MODEL.POOLING = "sum"
# Pooling gates (new): "sigmoid" (this package's default) or "raw" (the EBM code's unbounded
# linear score; needed to reproduce a mapped EBM checkpoint's energies).
_C.ENERGY_MODEL.POOLING_GATE = "sigmoid"
# Spectral normalisation of every Linear / GRU weight of the energy model (new).
_C.ENERGY_MODEL.SPECTRAL_NORM = False
# States of the negative graph before sampling (new): "minmax" (row-wise min-max normalised
# logits, the EBM code), "softmax" (probabilities), "sample" (one-hot draws from the head's
# softmax with a straight-through gradient: the same row statistics as one-hot positives).
_C.ENERGY_MODEL.NEGATIVE_STATES = "minmax"
# Margin per wrong label of the "Margin" loss: max(0, MARGIN * d(G+, G-) + T (E+ - E-)) with d
# the number of edges (and free nodes) whose label differs (new).
_C.ENERGY_MODEL.MARGIN = 1.0
# Reduction of Eq. 4 over the images of a batch (new): "mean" (this package) or "sum" (the EBM
# code; its closed-form optimum then depends on the batch size).
_C.ENERGY_MODEL.L2_REDUCTION = "mean"
# Hard negatives (new): per image, NUM extra negative graphs = the positive graph with k labels
# changed, k drawn uniformly from NUM_CHANGES; predicates drawn from SOURCE "frequency" (the
# train split's p(predicate | subject, object), the true one excluded) or "uniform". PredCls
# changes predicates only; SGCls / SGDet may also change object labels. Needs POSITIVE_GRAPH
# "matched" in relation training.
_C.ENERGY_MODEL.HARD_NEGATIVES = CN()
_C.ENERGY_MODEL.HARD_NEGATIVES.NUM = 0
_C.ENERGY_MODEL.HARD_NEGATIVES.NUM_CHANGES = (1, 2, 3)
_C.ENERGY_MODEL.HARD_NEGATIVES.SOURCE = "frequency"
# Probability that an edge change adds a relation on a background pair (its predicate drawn
# from SOURCE) instead of relabelling a GT relation (new); 0 = relabellings only.
_C.ENERGY_MODEL.HARD_NEGATIVES.ADDITIONS = 0.0
# Probability that a changed GT relation is deleted (set to background) instead of relabelled
# (new); 0 = no deletions.
_C.ENERGY_MODEL.HARD_NEGATIVES.DELETIONS = 0.0
# Weights of the energy model alone (new): a file written by tools/energy_pretrain_net.py (or
# any state dict of the energy model), loaded when relation training starts from scratch (a
# resumed run takes the energy model from its checkpoint). Empty = random initialisation.
_C.ENERGY_MODEL.WEIGHT = ""
# Keep the energy model fixed during relation training (new): its parameters get no update, so
# a pretrained energy model (ENERGY_MODEL.WEIGHT, required) acts as a learned structural prior
# that the relation model is trained against; the energy losses are still logged.
_C.ENERGY_MODEL.FREEZE = False
# Pretraining of the energy model on the train split's GT graphs (tools/energy_pretrain_net.py,
# new): no detector, no image graph (needs USE_IMAGE_GRAPH False); each GT graph on all ordered
# pairs of its objects (background on unannotated pairs, at most MAX_PAIRS pairs: all
# annotated ones, then a random subset of the rest) against HARD_NEGATIVES.NUM changed copies,
# ENERGY_MODEL.LOSS (+ L2COEFF x Eq. 4; LOSS_WEIGHT is not applied), Adam with LR, BATCH_SIZE
# graphs per step, EPOCHS passes. MAX_PAIRS 0 = every ordered pair.
_C.ENERGY_MODEL.PRETRAIN = CN()
_C.ENERGY_MODEL.PRETRAIN.EPOCHS = 10
_C.ENERGY_MODEL.PRETRAIN.LR = 0.001
_C.ENERGY_MODEL.PRETRAIN.BATCH_SIZE = 32
_C.ENERGY_MODEL.PRETRAIN.MAX_PAIRS = 256

_C.SAMPLER = CN()
# Registry name in ENERGY_SAMPLERS.
_C.SAMPLER.NAME = "SGLD"
# SGLD step size (lambda of Eq. 3): the paper's and the EBM README's 1.0 (the EBM code's
# defaults.py has 0.1).
_C.SAMPLER.LR = 1.0
# Standard deviation of the Gaussian noise added at each step.
_C.SAMPLER.VAR = 0.001
# SGLD steps (tau): the paper's and the EBM README's 20 (the EBM code's defaults.py has 10).
_C.SAMPLER.ITERS = 20
# Element-wise clamp of the state gradient.
_C.SAMPLER.GRAD_CLIP = 0.01
# How the energy loss reaches the relation model through the sampling path (new):
# "reference": steps are constants, gradients flow through the min-max normalisation chain to
# the initial prediction (EBM code); "unroll": the whole chain is differentiated (second-order);
# "detach": the sampled state is a constant (the relation model gets no energy gradient);
# "descend": sampled as "reference", but the energy model trains on a detached copy and the
# relation model gets the gradient that LOWERS its sampled graph's energy (generator-style).
_C.SAMPLER.GRAD_MODE = "reference"
# Temperature of the discrete sampler's gradient-informed proposal ("GibbsWithGradients",
# Grathwohl et al. 2021): flips are proposed with probability softmax(-dE / (2 * TEMP)) over
# the first-order energy change of every single-label flip and accepted by Metropolis-Hastings
# for the target exp(-E / TEMP) (new). Needs one-hot states (ENERGY_MODEL.NEGATIVE_STATES
# "sample").
_C.SAMPLER.PROPOSAL_TEMPERATURE = 1.0

# ---------------------------------------------------------------------------------------------
# Input
# ---------------------------------------------------------------------------------------------
_C.INPUT = CN()
# Shorter side of training images; one is drawn at random per image.
_C.INPUT.MIN_SIZE_TRAIN = (800,)
# Upper bound of the longer side of training images.
_C.INPUT.MAX_SIZE_TRAIN = 1333
# Shorter side of test images.
_C.INPUT.MIN_SIZE_TEST = 800
# Upper bound of the longer side of test images.
_C.INPUT.MAX_SIZE_TEST = 1333
# Per-channel mean subtracted from images (BGR 0-255 with TO_BGR255, the Caffe2 convention).
_C.INPUT.PIXEL_MEAN = [102.9801, 115.9465, 122.7717]
# Per-channel standard deviation images are divided by.
_C.INPUT.PIXEL_STD = [1.0, 1.0, 1.0]
# Convert images to BGR in 0-255 (Caffe2 weights) instead of RGB in 0-1.
_C.INPUT.TO_BGR255 = True
# Colour jitter strengths in training (0 = off).
_C.INPUT.BRIGHTNESS = 0.0
_C.INPUT.CONTRAST = 0.0
_C.INPUT.SATURATION = 0.0
_C.INPUT.HUE = 0.0
# Probability of a vertical flip in training.
_C.INPUT.VERTICAL_FLIP_PROB_TRAIN = 0.0

# ---------------------------------------------------------------------------------------------
# Datasets
# ---------------------------------------------------------------------------------------------
_C.DATASETS = CN()
# Named datasets from paths_catalog.py, e.g. ("VG_stanford_filtered_with_attribute_train",).
_C.DATASETS.TRAIN = ()
_C.DATASETS.VAL = ()
_C.DATASETS.TEST = ()
# Root folder of the named datasets (new). The environment variable SGG_DATA_DIR overrides it.
_C.DATASETS.DATA_DIR = "datasets"
# Split that tools/relation_test_net.py evaluates: "test", "val" or "train" (SGB HEAD key).
_C.DATASETS.TO_TEST = "test"
# Images carved from the start of the train split for validation.
_C.DATASETS.NUM_VAL_IM = 5000
# Use only the first N images of each split (-1 = all); handy for smoke runs (new).
_C.DATASETS.NUM_IM = -1

_C.DATALOADER = CN()
# Worker processes per data loader.
_C.DATALOADER.NUM_WORKERS = 4
# Pad batched images to a multiple of this (32 for FPN).
_C.DATALOADER.SIZE_DIVISIBILITY = 0
# Batch portrait and landscape images separately.
_C.DATALOADER.ASPECT_RATIO_GROUPING = True

# ---------------------------------------------------------------------------------------------
# Solver
# ---------------------------------------------------------------------------------------------
_C.SOLVER = CN()
# Training length in iterations.
_C.SOLVER.MAX_ITER = 40000
# Learning rate per image: the optimizer uses BASE_LR x IMS_PER_BATCH (SGB's rule).
_C.SOLVER.BASE_LR = 0.002
# Learning-rate factor of bias parameters.
_C.SOLVER.BIAS_LR_FACTOR = 2
# Learning-rate factor of the energy model's parameters (new): with a pretrained energy model
# (ENERGY_MODEL.WEIGHT) a small factor lets it follow the relation model's samples without
# erasing what it learned (at the relation model's rate, SGD erases it within ~100 iterations).
_C.SOLVER.ENERGY_LR_FACTOR = 1.0
# SGD momentum.
_C.SOLVER.MOMENTUM = 0.9
# Weight decay of weights and of biases.
_C.SOLVER.WEIGHT_DECAY = 0.0005
_C.SOLVER.WEIGHT_DECAY_BIAS = 0.0
# Decay factor of WarmupMultiStepLR.
_C.SOLVER.GAMMA = 0.1
# Decay iterations of WarmupMultiStepLR.
_C.SOLVER.STEPS = (30000,)
# Warm-up: start factor, length in iterations and "constant" or "linear".
_C.SOLVER.WARMUP_FACTOR = 1.0 / 3
_C.SOLVER.WARMUP_ITERS = 500
_C.SOLVER.WARMUP_METHOD = "linear"

_C.SOLVER.SCHEDULE = CN()
# "WarmupMultiStepLR" or "WarmupReduceLROnPlateau".
_C.SOLVER.SCHEDULE.TYPE = "WarmupMultiStepLR"
# Plateau: validations without improvement (> THRESHOLD) before a decay.
_C.SOLVER.SCHEDULE.PATIENCE = 2
_C.SOLVER.SCHEDULE.THRESHOLD = 1e-4
# Plateau: validations to wait after a decay.
_C.SOLVER.SCHEDULE.COOLDOWN = 1
# Plateau: learning-rate factor per decay.
_C.SOLVER.SCHEDULE.FACTOR = 0.5
# Plateau: training stops after this many decays.
_C.SOLVER.SCHEDULE.MAX_DECAY_STEP = 7

# Save a checkpoint every this many iterations.
_C.SOLVER.CHECKPOINT_PERIOD = 2500
# Clip the gradient L2 norm of each parameter group (relation model, energy model) to this.
_C.SOLVER.GRAD_NORM_CLIP = 5.0
# Log per-parameter gradient norms every this many iterations.
_C.SOLVER.PRINT_GRAD_FREQ = 5000
# Log losses, lr, timing and memory every this many iterations (new).
_C.SOLVER.LOG_PERIOD = 20
# Validate every VAL_PERIOD iterations; also validate before training.
_C.SOLVER.TO_VAL = True
_C.SOLVER.PRE_VAL = True
_C.SOLVER.VAL_PERIOD = 2500
# Validation score that drives WarmupReduceLROnPlateau: "R@100" or "mR@100" (any R@K/mR@K) (new).
_C.SOLVER.VAL_METRIC = "R@100"
# On resume, rebuild the scheduler at the saved iteration instead of loading its state.
_C.SOLVER.UPDATE_SCHEDULE_DURING_LOAD = False
# Images per batch over all processes (must divide by the number of processes).
_C.SOLVER.IMS_PER_BATCH = 16

# ---------------------------------------------------------------------------------------------
# Test
# ---------------------------------------------------------------------------------------------
_C.TEST = CN()
# Images per test batch over all processes.
_C.TEST.IMS_PER_BATCH = 8
# Reuse OUTPUT_DIR/inference/<dataset>/predictions.pth instead of running the model. Off by
# default (SGB silently reuses old results when on, which we only do when asked).
_C.TEST.ALLOW_LOAD_FROM_CACHE = False
# Run test-time energy refinement: SGLD from the prediction, relations ranked by the refined
# states (new; the reference's version is dead code).
_C.TEST.ENERGY_REFINE = False
# Energy-guided decoding (new): greedy label changes that raise
# sum log p_head(labels) - WEIGHT * E(graph), starting from the head's argmax; each of ROUNDS
# rounds scores every change of a pair to one of its TOP_PREDICATES most probable labels by the
# first-order energy change, evaluates the CANDIDATES best exactly and applies the best one if
# it improves the objective. A moved pair swaps the logits of its new and old labels, so
# triplet ranking sees the decoded labels (docs/ENERGY.md "Energy-guided decoding"). Needs
# MODEL.ENERGY_ON; not together with TEST.ENERGY_REFINE.
_C.TEST.ENERGY_DECODE = CN()
_C.TEST.ENERGY_DECODE.ON = False
_C.TEST.ENERGY_DECODE.WEIGHT = 1.0
_C.TEST.ENERGY_DECODE.ROUNDS = 10
_C.TEST.ENERGY_DECODE.TOP_PREDICATES = 3
_C.TEST.ENERGY_DECODE.CANDIDATES = 8
# Background pairs ranked in an image's top FILLER_TOP_K still fill its triplet list with their
# best predicate; > 0: each is listed, in rank order, with the one of its TOP_PREDICATES
# foreground labels that maximises log p - WEIGHT * E(listed graph), evaluated exactly; its
# score and rank stay. 0 = off (the listed label is the head's best foreground predicate).
_C.TEST.ENERGY_DECODE.FILLER_TOP_K = 0
# With FILLER_TOP_K: also rescore each filler with its conditional under the decoder's model
# (candidate logits - WEIGHT * (E(listed graph + pair at label) - E(... at background))), so a
# filler that every candidate label makes costlier drops in the ranking.
_C.TEST.ENERGY_DECODE.FILLER_RESCORE = False
# With FILLER_RESCORE: tilt a candidate only down (WEIGHT * max(energy change, 0)), so the
# energy can demote a filler but never promote one above pairs the head ranked higher.
_C.TEST.ENERGY_DECODE.FILLER_DEMOTE_ONLY = False
# With FILLER_RESCORE: measure each filler's energy change against the mean change of the
# image's fillers (their listed labels), so the tilt reorders fillers among themselves instead
# of lowering them all against the decoded relations.
_C.TEST.ENERGY_DECODE.FILLER_CENTER = False
# With FILLER_CENTER: the mean is taken over the image's fillers ("image") or over those listed
# with the same predicate ("predicate"), so a predicate's fillers are reordered among
# themselves and what any addition of that predicate costs cancels.
_C.TEST.ENERGY_DECODE.FILLER_CENTER_BY = "image"
# The energy's weight in the filler step (listing and rescoring); < 0: TEST.ENERGY_DECODE.WEIGHT.
_C.TEST.ENERGY_DECODE.FILLER_WEIGHT = -1.0
# SGB's scene graph detection on one's own images: tools/relation_test_net.py runs the SGDet
# model over every file of CUSTUM_PATH (a folder, or a JSON list of image paths) instead of
# evaluating, and writes custom_prediction.json and custom_data_info.json to DETECTED_SGG_DIR
# (boxes in network-input pixels, as SGB). SGB's spelling; tools/predict.py is the friendlier
# front end (docs/CUSTOM_IMAGES.md).
_C.TEST.CUSTUM_EVAL = False
_C.TEST.CUSTUM_PATH = ""

_C.TEST.RELATION = CN()
# SGDet: subject and object IoU needed for a triplet match.
_C.TEST.RELATION.IOU_THRESHOLD = 0.5
# SGDet: only pairs of overlapping boxes are scored at test.
_C.TEST.RELATION.REQUIRE_OVERLAP = True
# SGDet: per-class NMS threshold when assigning the final object labels.
_C.TEST.RELATION.LATER_NMS_PREDICTION_THRES = 0.3
# Gather predictions across processes after every batch instead of at the end.
_C.TEST.RELATION.SYNC_GATHER = False
# K values of every recall metric (new).
_C.TEST.RELATION.RECALL_KS = (20, 50, 100)
# Few-shot recall bins [k1, k2] of train-triplet frequency (the paper's Table 3) (new).
_C.TEST.RELATION.FEW_SHOT_BINS = ((1, 5), (6, 10), (11, 15), (16, 20), (21, 25))
# Also report exact-k few-shot recall for these k (the EBM code's k-shot files) (new).
_C.TEST.RELATION.FEW_SHOT_EXACT_KS = ()
# Optional reference-format zero-shot triplet file (zeroshot_triplet.pytorch, rows of
# subject class, object class, predicate); empty = derived from the train split (new).
_C.TEST.RELATION.ZERO_SHOT_FILE = ""
# Optional folder of reference k-shot files vg-{k}-shot-triplets.pytorch for
# FEW_SHOT_EXACT_KS (new).
_C.TEST.RELATION.FEW_SHOT_DIR = ""
# Re-decode every image's relation scores under the synthetic benchmark's scene rules before
# evaluating (the oracle's joint decoder, docs/EVALUATION.md "Structure metrics"); synthetic
# data only. Results go to OUTPUT_DIR/inference/<dataset>_joint_decode/ (new).
_C.TEST.RELATION.JOINT_DECODE = False

# ---------------------------------------------------------------------------------------------
# Misc
# ---------------------------------------------------------------------------------------------
# Where logs, checkpoints, statistics caches and inference results go.
_C.OUTPUT_DIR = "."
# Where TEST.CUSTUM_EVAL writes custom_prediction.json and custom_data_info.json (SGB key).
_C.DETECTED_SGG_DIR = "."
# Folder holding glove.6B.<EMBED_DIM>d.txt (or its cached .pt), relative to the working directory
# (SGB's default was "."; the shipped configs and this default use ./glove); empty or missing =
# seeded random class embeddings with one warning. Nothing is ever downloaded.
_C.GLOVE_DIR = "./glove"
# Compute dtype under autocast: "float32", "float16" (with a grad scaler) or "bfloat16".
_C.DTYPE = "float32"
# Seed of Python, NumPy and torch RNGs; each rank adds its rank (new).
_C.SEED = 0

# ---------------------------------------------------------------------------------------------
# Sentence-to-graph retrieval (the paper's Table 4; tools/image_retrieval.py, docs/RETRIEVAL.md)
# ---------------------------------------------------------------------------------------------
# SGB's retrieval (maskrcnn_benchmark/image_retrieval/ there) with its settings hard-coded in
# the code and paths edited in the tool; here every setting is a key (new). Training reads
# SOLVER (iterations, SGB's BASE_LR x IMS_PER_BATCH rule) and SEED like the other trainers.
_C.RETRIEVAL = CN()
# SGB's caption-graph file (vg_capgraphs_anno.json); "" = that name beside the data set's h5
# (SGB's catalog puts it in datasets/vg/; `tools/image_retrieval.py captions` writes it into a
# synthetic data set's folder).
_C.RETRIEVAL.CAPTIONS_FILE = ""
# Retrieval inputs (`tools/image_retrieval.py preprocess` output) to train on: the train split
# (and val split) of the same run, as SGB trains on the model's graphs of the train images.
_C.RETRIEVAL.TRAIN_FILES = ()
# Retrieval input of the test split: its first NUM_TEST usable images are the test pool (the
# galleries are prefixes of it), the next NUM_VAL the validation set, the rest join training
# (SGB's image_retrieval_main.py: 5000 and 1000).
_C.RETRIEVAL.TEST_FILE = ""
_C.RETRIEVAL.NUM_TEST = 5000
_C.RETRIEVAL.NUM_VAL = 1000

# How a saved prediction becomes a graph (SGB's preprocessing.py): objects scoring at least
# OBJ_THRESHOLD; pairs of them whose most probable predicate column (background included) is a
# predicate; TOP_K > 0 keeps only the TOP_K with the highest triplet score (0 = all, as SGB).
_C.RETRIEVAL.PREPROCESS = CN()
_C.RETRIEVAL.PREPROCESS.OBJ_THRESHOLD = 0.1
_C.RETRIEVAL.PREPROCESS.TOP_K = 0

# SGB's modelv2.SGEncode: embedding width, attention hidden width, graph embedding width, number
# of attention glimpses (0 = none: a bag of entity words) and the dropout before every
# weight-normalised linear map.
_C.RETRIEVAL.MODEL = CN()
_C.RETRIEVAL.MODEL.EMBED_DIM = 512
_C.RETRIEVAL.MODEL.HIDDEN_DIM = 512
_C.RETRIEVAL.MODEL.OUTPUT_DIM = 1024
_C.RETRIEVAL.MODEL.GLIMPSES = 2
_C.RETRIEVAL.MODEL.DROPOUT = 0.2
# Graph embedding = MLP(pool of entity vectors): POOLING "sum" (SGB) | "mean"; OUTPUT_RELU True
# (SGB: a ReLU after the MLP's last layer, non-negative embeddings) | False (a linear output).
_C.RETRIEVAL.MODEL.POOLING = "sum"
_C.RETRIEVAL.MODEL.OUTPUT_RELU = True

# Triplet loss (image_retrieval/loss.py): hinge margin and the smooth-L1 distance's beta.
# NEGATIVES: "random" (SGB: one uniformly drawn other pair per pair, both hinge terms anchored
# on an image) | "hardest" (VSE++: the hardest other image of the batch for each query and the
# hardest other query for each image) | "all" (every other pair of the batch, averaged).
# DISTANCE: "smooth_l1" (SGB) | "cosine" (1 - cosine, what TEST.SIMILARITY "cosine" ranks by).
_C.RETRIEVAL.LOSS = CN()
_C.RETRIEVAL.LOSS.MARGIN = 1.0
_C.RETRIEVAL.LOSS.SMOOTH_L1_BETA = 1.0 / 9.0
_C.RETRIEVAL.LOSS.NEGATIVES = "random"
_C.RETRIEVAL.LOSS.DISTANCE = "smooth_l1"
# With NEGATIVES "hardest": the first ALL_NEGATIVES_ITERS iterations use "all" (VSE++'s warm
# start). From a random start every embedding is alike, the hardest negative is as close as the
# positive and the loss sits at the margin; on predicted scene graphs it stayed there for whole
# runs (docs/RETRIEVAL.md, "Training on predicted graphs"). 0: "hardest" from the first step.
_C.RETRIEVAL.LOSS.ALL_NEGATIVES_ITERS = 0

_C.RETRIEVAL.TEST = CN()
# Gallery sizes (the first N test pairs; a size above the test pool uses the whole pool, and
# the results say so) and the recall cut-offs (the paper reports R@20 and R@100 at 1000 / 5000).
_C.RETRIEVAL.TEST.GALLERY_SIZES = (1000, 5000)
_C.RETRIEVAL.TEST.RECALL_KS = (1, 5, 10, 20, 50, 100)
# Query-image score: "cosine" (SGB), "dot" (the EBM code) or "smooth_l1" (minus the smooth-L1
# distance with LOSS.SMOOTH_L1_BETA: the distance SGB's loss trains).
_C.RETRIEVAL.TEST.SIMILARITY = "cosine"
# Images scored equal to the true one: "pessimistic" (ranked before it: SGB's >= without its
# off-by-one) or "optimistic" (after it: the EBM code's strict >).
_C.RETRIEVAL.TEST.TIES = "pessimistic"
# Validation score during training: R@VAL_RECALL_K on the val pairs.
_C.RETRIEVAL.TEST.VAL_RECALL_K = 20
# Chance check: give every query the graph of a randomly permuted image (seeded by SEED).
_C.RETRIEVAL.TEST.SHUFFLE_GRAPHS = False
