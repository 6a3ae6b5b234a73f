"""The propositions: statements, assumptions, sources, the catalog methods they concern, and their checks.

Data only (no torch); see :class:`~reprogrammability.framework.theory.proposition.Proposition`.
"""

from __future__ import annotations

from .proposition import Proposition, Source

__all__ = ["PROPOSITIONS", "get", "ids", "for_method"]

HE_2022 = Source(
    "Towards a Unified View of Parameter-Efficient Transfer Learning",
    "He, Zhou, Ma, Berg-Kirkpatrick, Neubig",
    2022,
    "ICLR",
    "2110.04366",
    "Sec. 3.1, a closer look at prefix tuning",
)
PETROV_2024 = Source(
    "When Do Prompting and Prefix-Tuning Work? A Theory of Capabilities and Limitations",
    "Petrov, Torr, Bibi",
    2024,
    "ICLR",
    "2310.19698",
    "the analysis of prefix-tuning: it can only scale the content attention and bias the head output",
)
ELSAYED_2019 = Source(
    "Adversarial Reprogramming of Neural Networks",
    "Elsayed, Goodfellow, Sohl-Dickstein",
    2019,
    "ICLR",
    "1806.11146",
    "the additive program W ⊙ M on a frame",
)
BAHNG_2022 = Source(
    "Exploring Visual Prompts for Adapting Large-Scale Models",
    "Bahng, Jahanian, Sankaranarayanan, Isola",
    2022,
    "arXiv preprint",
    "2203.17274",
    "the padding prompt",
)
LESTER_2021 = Source(
    "The Power of Scale for Parameter-Efficient Prompt Tuning",
    "Lester, Al-Rfou, Constant",
    2021,
    "EMNLP",
    "2104.08691",
    "soft prompts and their initialisation from vocabulary embeddings",
)
TSAI_2020 = Source(
    "Transfer Learning without Knowing: Reprogramming Black-box Machine Learning Models with Scarce Data and "
    "Limited Resources",
    "Tsai, Chen, Ho",
    2020,
    "ICML",
    "2007.08714",
    "frequency label mapping",
)
CHEN_2023 = Source(
    "Understanding and Improving Visual Prompting: A Label-Mapping Perspective",
    "Chen, Yao, Chen, Zhang, Liu",
    2023,
    "CVPR",
    "2211.11635",
    "iterative label mapping",
)
CAI_2024 = Source(
    "Bayesian-guided Label Mapping for Visual Reprogramming",
    "Cai, Ye, Feng, Qi, Liu",
    2024,
    "NeurIPS",
    "2410.24018",
    "the BLM and BLM+ estimators",
)
VON_OSWALD_2023 = Source(
    "Transformers Learn In-Context by Gradient Descent",
    "von Oswald, Niklasson, Randazzo, Sacramento, Mordvintsev, Zhmoginov, Vladymyrov",
    2023,
    "ICML",
    "2212.07677",
    "Proposition 1, the weight construction for one linear self-attention layer",
)
WANG_2023 = Source(
    "Universality and Limitations of Prompt Tuning",
    "Wang, Chauhan, Wang, Hsieh",
    2023,
    "NeurIPS",
    "2305.18787",
    "the limitation results for a single-layer transformer",
)
YANG_2021 = Source(
    "Voice2Series: Reprogramming Acoustic Models for Time Series Classification",
    "Yang, Tsai, Chen",
    2021,
    "ICML",
    "2106.09296",
    "Theorem 1, population risk of reprogramming",
)
NESTEROV_2017 = Source(
    "Random Gradient-Free Minimization of Convex Functions",
    "Nesterov, Spokoiny",
    2017,
    "Foundations of Computational Mathematics",
    None,
    "the Gaussian-smoothing identity of the random oracle",
)
SPALL_1992 = Source(
    "Multivariate Stochastic Approximation Using a Simultaneous Perturbation Gradient Approximation",
    "Spall",
    1992,
    "IEEE Transactions on Automatic Control",
    None,
    "SPSA",
)
OH_2023 = Source(
    "BlackVIP: Black-Box Visual Prompting for Robust Transfer Learning",
    "Oh, Hwang, Lee, Lim, Jung, Jung, Choi, Song",
    2023,
    "CVPR",
    "2303.14773",
    "SPSA-GC",
)

PROPOSITIONS: tuple[Proposition, ...] = (
    Proposition(
        id="prefix-gating",
        title="Prefix tuning is a gated interpolation of two attentions",
        kind="identity",
        statement=(
            r"For a head with query $q$, content keys and values $K, V$ and prefix keys and values $P_k, P_v$, "
            r"$\mathrm{Attn}(q, [P_k; K], [P_v; V]) = (1-\lambda(q))\,\mathrm{Attn}(q, K, V) + \lambda(q)\,"
            r"\mathrm{Attn}(q, P_k, P_v)$ with $\lambda(q) = \frac{\sum_i e^{q^\top P_{k,i}/\sqrt{d}}}"
            r"{\sum_i e^{q^\top P_{k,i}/\sqrt{d}} + \sum_j e^{q^\top K_j/\sqrt{d}}}$: the prefix's contribution is "
            r"an attention over the prefix alone, mixed in by a gate that depends on the query."
        ),
        assumptions=(
            r"One softmax attention head (scaled dot product); the prefix is visible to every query; a causal mask "
            r"only restricts the content sums.",
            r"$P_k, P_v$ are free vectors (prefix tuning learns them per layer, possibly through a re-parameterising MLP).",
        ),
        sources=(HE_2022,),
        methods=("prefix-tuning", "p-tuning-v2", "vpt-deep"),
        check="prefix_gating:check",
        variants={
            "wrong-gate": "gate set to the prefix's share of the positions l/(l+n) instead of its share of the attention mass",
            "swapped-gate": "λ and 1 − λ exchanged",
        },
        how=(
            "Random heads (30 instances; 200 with `--thorough`) with random numbers of queries, content tokens, "
            "prefix length, model and head width and weight scale, in float64; measures the largest absolute "
            "difference between the prefixed head and the gated form."
        ),
    ),
    Proposition(
        id="prefix-relative-attention",
        title="A prefix cannot change the relative attention over the content",
        kind="limitation",
        statement=(
            r"With a prefix, the attention weights over the content satisfy $A^{\mathrm{pt}}_{ij}/A^{\mathrm{pt}}_{ik} "
            r"= A_{ij}/A_{ik}$ and the head's output is $t^{\mathrm{pt}}_i = (1-\alpha_i)\,t_i + \alpha_i\,"
            r"\mathrm{Attn}(q_i, S_k, S_v)$, $\alpha_i$ the attention mass on the prefix; with one prefix token this "
            r"is a bias in the fixed direction $W_V s$. Hence a task that needs a new attention pattern over the "
            r"content cannot be learned by prefix tuning, while a low-rank update of $W_K$ of fewer parameters can."
        ),
        assumptions=(
            r"One attention layer with frozen $W_Q, W_K, W_V$; the prefix enters as extra keys and values.",
            r"The task: tokens $x_j = [u_j; e_j]$ ($u_j \sim \mathcal N(0, I_4)$, $e_j$ one-hot position, 10 positions); "
            r"the last position must output $u_1$ through the frozen values $W_V x_j = u_j$.",
        ),
        sources=(PETROV_2024,),
        methods=("prefix-tuning", "p-tuning-v2", "prompt-tuning", "vpt-deep"),
        check="prefix_limits:check",
        variants={
            "wrong-gate": "the output decomposition uses the mass on the first content token instead of on the prefix",
            "position-prompt": "the prefix replaced by an additive per-position input program, which can change "
            "the keys of one position and so learns the task (the limitation no longer holds)",
        },
        own=(
            "The exact identity is the paper's; the copy task, the parameter-matched rank-1 LoRA and the training "
            "budget are our construction."
        ),
        how=(
            "(a) 20 random heads (100 with `--thorough`): residual of the renormalised content attention and of the "
            "output decomposition. (b) The copy task on 128 sequences: prefixes of length 1 and 4 (up to 48 "
            "parameters) and a rank-1 LoRA on $W_K$ (22 parameters), each trained with Adam for 200 steps; "
            "normalised MSE = MSE / E‖u_1‖²."
        ),
    ),
    Proposition(
        id="first-layer-bias",
        title="At an affine first layer an input program is a bias change",
        kind="identity",
        statement=(
            r"If the first layer is affine, $g(x) = W * x + b$, then $g(x + \delta) = W * x + (b + W * \delta)$: "
            r"an additive input program (reprogramming) is the input-independent, spatially varying bias change "
            r"$W * \delta$, i.e. a restricted parameter-centric adaptation (PCA) of the first layer. The padding program "
            r"$\delta = M \odot \theta$ changes $g$ only on the receptive field of the frame $M$. The reachable "
            r"perturbations $\{W * \delta\}$ form a linear subspace of dimension at most $C_{\mathrm{in}} H W$, "
            r"while a weight change $\Delta W$ changes $g$ by $\Delta W * x$, which depends on $x$ and is not reachable."
        ),
        assumptions=(
            r"A convolution (any stride, padding, dilation), or a convolution followed by eval-mode batch norm "
            r"(checked on the shipped TinyCNN's first block).",
            r"For the reachability count: a $3\times 3$ convolution with $C_{\mathrm{out}} > C_{\mathrm{in}}$, "
            r"'same' padding.",
        ),
        sources=(ELSAYED_2019, BAHNG_2022),
        methods=("adversarial-reprogramming", "visual-prompting", "ilm-vp", "blm", "blm-plus", "bar", "evp"),
        check="first_layer:check",
        variants={
            "wrong-sign": "the bias change taken as −W * δ",
            "no-receptive-field": "the padding program's support predicted as the frame itself, not its receptive field",
        },
        own=(
            "Our corollary of linearity; the sources define the additive (full-image and padding) programs it applies to."
        ),
        how=(
            "15 random convolutions (60 with `--thorough`) plus the TinyCNN block: max |g(x+δ) − g(x) − W*δ|. Six "
            "random frames: the padding program's output outside the receptive field (must be exactly 0) and its "
            "smallest magnitude on it (> 0). The rank of δ ↦ W*δ from its Jacobian; for a random ΔW and two "
            "inputs, the best least-squares program error against the floor Σ‖a_k − ā‖²/Σ‖a_k‖²."
        ),
    ),
    Proposition(
        id="hard-prompts-are-soft",
        title="Hard prompts are points of the soft-prompt space",
        kind="identity",
        statement=(
            r"Let $E$ be the frozen embedding table. A soft prompt $P = E[t_1..t_L] \in \mathbb R^{L\times D}$ "
            r"initialised at the embeddings of a text's tokens gives exactly the text's outputs: "
            r"$f([P; E(x)]) = f_{\mathrm{ids}}([t; x])$ for every input $x$. The hard prompts are the finite set "
            r"$\{E[t] : t \in \mathcal V^L\}$ inside $\mathbb R^{L\times D}$; prompt tuning moves $P$ off that set."
        ),
        assumptions=(
            r"Positions are assigned by order (the soft prompt takes the text's positions), no special tokens are added.",
            r"The soft prompt is inserted at the embedding interface (``SoftPrompt`` with the ``text`` initialisation).",
        ),
        sources=(LESTER_2021,),
        methods=("prompt-tuning", "p-tuning", "coop", "vpt-shallow", "instruction-prompting"),
        check="hard_prompts:check",
        variants={"reversed-prompt": "the soft prompt initialised at the text's embeddings in reverse order"},
        own="Our observation: Lester et al. use this initialisation; the exact equality is what makes it a hard prompt.",
        how=(
            "The shipped tiny Llama and GPT-2 (with `--thorough` also tiny BERT and all-MiniLM-L6-v2), float64, two "
            "texts (four with `--thorough`) × three inputs: max |logits(soft) − logits(ids)|; then one normalised "
            "gradient step of size 0.01 and the distance of the prompt to the nearest token embedding."
        ),
    ),
    Proposition(
        id="label-maps-are-linear",
        title="Label mappings are fixed linear maps after their fit",
        kind="identity",
        statement=(
            r"After its fit every label mapping is $\hat y = z\,\omega$ with a fixed $\omega \in \mathbb R^{C_s\times C_t}$: "
            r"for RLM, FLM and ILM $\omega \in \{0,1\}^{C_s\times C_t}$ with one 1 per column and at most one per row "
            r"(a rule-based or greedy assignment on the joint counts $d_{st}$ of $(\arg\max z, y)$); for BLM and BLM+ "
            r"$\omega_{st} = \hat P(t\mid s)/\sum_{s'} \hat P(t\mid s')$ with "
            r"$\hat P(t\mid s) = d_{st}/(\sum_{t'} d_{st'} + \lambda)$, a column-stochastic matrix from the joint counts "
            r"of the argmax (BLM) or of the top-$k$ probabilities (BLM+)."
        ),
        assumptions=(
            r"One-to-one RLM/FLM/ILM ($C_t \le C_s$); every target class occurs in the fitting data; Laplace $\lambda > 0$.",
        ),
        sources=(TSAI_2020, CHEN_2023, CAI_2024),
        methods=("bar", "ilm-vp", "blm", "blm-plus", "adversarial-reprogramming", "voice2series"),
        check="label_maps:check",
        variants={
            "row-normalised": "BLM/BLM+ ω normalised over target classes instead of over source classes",
            "least-frequent": "FLM/ILM assignment on the least frequent pairs",
        },
        own="Our reading of the published estimators as linear maps; ω is recomputed from its definition independently.",
        how=(
            "10 random problems (40 with `--thorough`): random logits (scale 3), labels, class counts, λ and k; fits "
            "the five implementations and measures max |O(z) − z ω_ref| on fresh logits and |ω − ω_ref|."
        ),
    ),
    Proposition(
        id="icl-one-gd-step",
        title="In-context learning with linear self-attention is one step of gradient descent",
        kind="identity",
        statement=(
            r"With tokens $e_i = (x_i, y_i)$, query $e_q = (x_q, -W_0 x_q)$ and the linear self-attention layer "
            r"$e_j \leftarrow e_j + P W_V \sum_{i=1}^N e_i\, (W_K e_i)^\top (W_Q e_j)$ with "
            r"$W_K = W_Q = \begin{pmatrix} I & 0 \\ 0 & 0\end{pmatrix}$, "
            r"$W_V = \begin{pmatrix} 0 & 0 \\ W_0 & -I\end{pmatrix}$, $P = \frac{\eta}{N} I$, every token's label "
            r"slot moves by $\Delta W x_j$ with $\Delta W = \eta\nabla L(W_0)$, "
            r"$L(W) = \frac{1}{2N}\sum_i \lVert W x_i - y_i\rVert^2$, so the query's label slot becomes "
            r"$-(W_0 - \eta \nabla L(W_0))\,x_q$: minus the prediction after one gradient-descent step."
        ),
        assumptions=(
            r"Linear (no softmax) self-attention, one head, keys and values from the $N$ context tokens only.",
        ),
        sources=(VON_OSWALD_2023,),
        methods=("in-context-learning", "kate", "task-vector", "function-vector"),
        check="icl_gd:check",
        variants={
            "wrong-sign": r"$W_V$ with $+I$ in the label block",
            "wrong-normalisation": r"$P = \eta I$ instead of $\frac{\eta}{N} I$",
        },
        how=(
            "25 random regression problems (100 with `--thorough`) with random $d_x$, $d_y$, $N$, η and $W_0$: max "
            "residual of the query's and the context tokens' label slots against one gradient-descent step."
        ),
    ),
    Proposition(
        id="prompt-tuning-limits",
        title="A dataset no prompt memorises on a fixed single-layer transformer",
        kind="limitation",
        statement=(
            r"For a layer $\tau(X)_j = f(\mathrm{Att}(x_j, [P; X]) + x_j)$ with $f$ invertible, and two sequences "
            r"$X_1 = [x_1, x_0]$, $X_2 = [x_2, x_0]$ sharing $x_0$: $\mathrm{Att}(x_0, [P; X_i]) = \lambda_i\, a_i + "
            r"(1-\lambda_i)\, c$ with $a_i = \mathrm{Att}(x_0, X_i)$, $c = \mathrm{Att}(x_0, P)$ common to both. "
            r"Targets $t_i = f^{-1}(y_i) - x_0$ are memorised only if $c$ lies on both rays "
            r"$\{a_i + s(t_i - a_i) : s \ge 1\}$; when the rays do not meet, no prompt of any length memorises the "
            r"dataset, while a LoRA update of $W_V$ does."
        ),
        assumptions=(
            r"One softmax head, prompt tokens prepended; $f$ invertible (the check works on $t_i = f^{-1}(y_i) - x_0$, "
            r"so $f$ drops out); $d \ge 3$ so that two generic rays do not meet.",
        ),
        sources=(WANG_2023,),
        methods=("prompt-tuning", "p-tuning", "vpt-shallow", "coop"),
        check="prompt_limits:check",
        variants={"meeting-rays": "targets built on rays that meet at a common c, so the dataset is memorisable"},
        own=(
            "The convex-combination decomposition and the comparison with LoRA are the paper's; the restatement as "
            "two rays that must meet, the numerical lower bound $E^*$ over $(c, \\lambda)$ and the trained prompts "
            "are our way of checking the construction."
        ),
        how=(
            "10 random instances of the decomposition ($d = 4$; 30 with `--thorough`, $d = 8$); on one constructed "
            "dataset (targets $t_i = a_i + r\\,n_i$, $n_1, n_2$ orthonormal and orthogonal to $a_1 - a_2$: skew rays at "
            "distance $\\lVert a_1 - a_2\\rVert$), $E^* = \\min_{c, \\lambda} \\sum_i \\lVert \\lambda_i a_i + (1-\\lambda_i)c - t_i\\rVert^2 / "
            "\\sum_i \\lVert t_i\\rVert^2$ (closed-form $c$ on an 801×801 grid of λ), prompts of length 1, 2 and 8 "
            "trained with Adam (300 steps), and a rank-2 update of $W_V$ solved in closed form."
        ),
    ),
    Proposition(
        id="reprogramming-risk-bound",
        title="Reprogramming risk ≤ source risk + representation alignment",
        kind="bound",
        statement=(
            r"For a $K$-way source classifier $f = \eta\circ z$ reprogrammed by an additive program $\delta$, "
            r"the target risk is bounded by the source risk plus a Wasserstein-1 alignment term: "
            r"$\varepsilon_T(\delta) \le \varepsilon_S + 2\sqrt{K}\; W_1\big(\mu_{z(x_t+\delta)}, \mu_{z(x_s)}\big)$. "
            r"In our instance the loss is 1-Lipschitz in $z$, so also "
            r"$\varepsilon_T(\delta) \le \varepsilon_S + W_1(\cdot,\cdot)$."
        ),
        assumptions=(
            r"Labels given by one decision rule in representation space for both domains (a consistent label "
            r"mapping): $h(z) = \arg\max_k z_k$.",
            r"Loss $\ell(z) = \lVert \eta(z) - e_{h(z)}\rVert_1 = 2(1 - \max_k \eta_k(z))$ (1-Lipschitz: the softmax "
            r"Jacobian has spectral norm at most 1/2).",
            r"Empirical distributions of equal size; $W_1$ computed exactly by an optimal assignment.",
        ),
        sources=(YANG_2021,),
        methods=("voice2series", "adversarial-reprogramming", "visual-prompting", "time-llm"),
        check="risk_bound:check",
        variants={"wrong-sign": "the alignment term subtracted instead of added"},
        own=(
            "The instance (the shipped TinyCNN's logits, noise images as source, smooth images plus four programs "
            "as target, the loss and labelling above) and the tighter 1-Lipschitz form are ours; the 2√K bound is the "
            "paper's Theorem 1 as we read it."
        ),
        how=(
            "96 source and 96 target images (256 with `--thorough`), programs: none, random, random frame, and a "
            "program trained to minimise $W_1$ (25 Adam steps; 60 with `--thorough`); per program the target risk, "
            "$W_1$ and both bounds; the reported value is the smallest slack. With `--thorough` also the shipped "
            "ImageNet-pretrained EfficientNet-Lite0 ($K = 1000$; 128 images of 96×96 per domain, programs none, random, "
            "frame), where the bound holds but is loose."
        ),
    ),
    Proposition(
        id="zeroth-order-unbiased",
        title="Zeroth-order gradient estimates are unbiased for a quadratic loss",
        kind="statistical",
        statement=(
            r"For $u \sim \mathcal N(0, I)$, $\mathbb E_u\big[\tfrac{L(\theta + \beta u) - L(\theta)}{\beta}\, u\big] "
            r"= \nabla L_\beta(\theta)$ with $L_\beta(\theta) = \mathbb E_u L(\theta + \beta u)$ the Gaussian smoothing; "
            r"for a quadratic $L(\theta) = \tfrac12 \theta^\top A \theta + b^\top \theta$, $\nabla L_\beta = \nabla L$. "
            r"The same holds for directions uniform on the unit sphere scaled by $d$ (the random gradient-free "
            r"estimate of BAR) and for the central difference along Rademacher directions "
            r"$\mathbb E_\Delta\big[\tfrac{L(\theta + c\Delta) - L(\theta - c\Delta)}{2c}\, \Delta\big] = \nabla L$ "
            r"(SPSA, used by BlackVIP)."
        ),
        assumptions=(
            r"$L$ quadratic (for a general smooth $L$ the Gaussian estimate is unbiased for $\nabla L_\beta$, "
            r"not $\nabla L$); directions independent of each other.",
        ),
        sources=(NESTEROV_2017, SPALL_1992, TSAI_2020, OH_2023),
        methods=("bar", "blackvip"),
        check="zeroth_order:check",
        variants={
            "missing-dimension-factor": "the sphere estimate without its factor $d$",
            "central-without-half": "the central difference divided by $c$ instead of $2c$",
        },
        own="The check is ours; the identities are the sources' (the quadratic case of the smoothing identity).",
        how=(
            "6 random quadratics (20 with `--thorough`), $d \\le 12$ (24), 8,000 directions (40,000) of each kind: "
            "the largest |z| of a coordinate of the mean estimate against $\\nabla L$, with its standard error."
        ),
    ),
)

_BY_ID = {proposition.id: proposition for proposition in PROPOSITIONS}


def ids() -> list[str]:
    return list(_BY_ID)


def get(proposition_id: str) -> Proposition:
    try:
        return _BY_ID[proposition_id]
    except KeyError:
        raise KeyError(f"proposition: unknown id {proposition_id!r}; allowed: {', '.join(_BY_ID)}") from None


def for_method(method_id: str) -> list[Proposition]:
    """The propositions that concern the catalog method ``method_id``."""
    return [proposition for proposition in PROPOSITIONS if method_id in proposition.methods]
