# End-to-end checks of the symphony command: exit status and the messages users see.
# Included from the top-level CMakeLists.txt.

function(symphony_add_cli_test name expected_exit regex)
  add_test(NAME cli_${name}
           COMMAND ${CMAKE_COMMAND} -DEXE=$<TARGET_FILE:symphony> -DEXPECTED_EXIT=${expected_exit}
                   "-DREGEX=${regex}" "-DARGS=${ARGN}" -P ${CMAKE_SOURCE_DIR}/tests/cli/run_cli.cmake)
  set_tests_properties(cli_${name} PROPERTIES ENVIRONMENT "OMP_NUM_THREADS=2;OMP_WAIT_POLICY=PASSIVE")
endfunction()

symphony_add_cli_test(unknown_key 2 "unknown key model\\.num_expert; did you mean model\\.num_experts"
                      train tiny --set model.num_expert=3)
symphony_add_cli_test(topk_exceeds_experts 2 "model\\.num_experts_per_tok"
                      train tiny --set model.num_experts_per_tok=9)
symphony_add_cli_test(heads_not_dividing 2 "model\\.num_key_value_heads"
                      train tiny --set model.num_key_value_heads=3)
symphony_add_cli_test(topk_group_exceeds_n_group 2
                      "model\\.topk_group = 3 must be in \\[1, model\\.n_group = 2\\]"
                      train tiny --dry-run --set model.n_group=2 --set model.topk_group=3)
symphony_add_cli_test(n_group_not_dividing 2 "model\\.n_group = 3 does not divide model\\.num_experts = 8"
                      train tiny --dry-run --set model.n_group=3)
symphony_add_cli_test(topk_beyond_groups 2 "model\\.num_experts_per_tok = 2 must be at most model\\.topk_group"
                      train tiny --dry-run --set model.n_group=8 --set model.topk_group=1)
symphony_add_cli_test(unknown_scoring_func 2 "model\\.scoring_func: expected one of .softmax., .sigmoid."
                      train tiny --dry-run --set model.scoring_func=tanh)
symphony_add_cli_test(routed_scaling_not_positive 2 "model\\.routed_scaling_factor = -1"
                      train tiny --dry-run --set model.routed_scaling_factor=-1)
symphony_add_cli_test(partial_rotary_odd 2 "model\\.partial_rotary_factor = 0\\.28 must be in"
                      train tiny --dry-run --set model.partial_rotary_factor=0.28)
symphony_add_cli_test(unknown_precision 2 "train\\.precision: expected one of .fp32., .bf16., .fp8., got string .fp16."
                      train tiny --dry-run --set train.precision=fp16)
symphony_add_cli_test(grad_dtype_fp8 2 "parallel\\.grad_dtype = .fp8.: gradients are reduced in .fp32. or .bf16."
                      train tiny --dry-run --set parallel.grad_dtype=fp8)
symphony_add_cli_test(grad_dtype_unknown 2 "parallel\\.grad_dtype: expected one of"
                      train tiny --dry-run --set parallel.grad_dtype=fp16)
symphony_add_cli_test(fp8_block_not_dividing 2 "fp8\\.block_size = 48 does not divide model\\.hidden_size = 128"
                      train tiny --dry-run --set train.precision=fp8 --set fp8.block_size=48)
symphony_add_cli_test(fp8_unknown_scaling 2 "fp8\\.scaling"
                      train tiny --dry-run --set train.precision=fp8 --set fp8.scaling=rowwise)
symphony_add_cli_test(dry_run_fp8 0 "fp8 GEMMs.*fp8 scratch +[0-9.]+ [KM]iB"
                      train tiny --dry-run --set train.precision=fp8)
symphony_add_cli_test(dry_run_bf16 0 "bf16 GEMMs.*bf16 scratch +[0-9.]+ [KM]iB"
                      train tiny --dry-run --set train.precision=bf16)
symphony_add_cli_test(wrong_type 2 "train\\.steps"
                      train tiny --set train.steps=abc)
symphony_add_cli_test(unknown_preset 2 "no-such-preset"
                      train no-such-preset)
symphony_add_cli_test(missing_data 2 "does-not-exist\\.tok"
                      train tiny --set data.train_path=/does-not-exist.tok --set train.steps=1
                      --set optim.warmup_steps=0)
symphony_add_cli_test(dry_run 0 "parameters +1\\.14M total, 700\\.8K active"
                      train tiny --dry-run)
symphony_add_cli_test(dry_run_trillion 0 "1\\.03T total"
                      train kimi-k2-1t --dry-run)
symphony_add_cli_test(dry_run_deepseek_v3 0 "671\\.03B total, 37\\.55B active"
                      train deepseek-v3-671b --dry-run)
symphony_add_cli_test(dry_run_ling 0 "999\\.71B total, 51\\.05B active"
                      train ling-1t --dry-run)
symphony_add_cli_test(presets 0 "bench-moe-small +88\\.12M params"
                      presets)
symphony_add_cli_test(dry_run_mtp 0 "MTP modules +304\\.8K parameters in 1, 157\\.4K active"
                      train tiny --dry-run --set model.num_nextn_predict_layers=1)
symphony_add_cli_test(bad_mtp_depth 2 "model\\.num_nextn_predict_layers: expected a non-negative"
                      train tiny --dry-run --set model.num_nextn_predict_layers=-1)
symphony_add_cli_test(bad_mtp_weight 2 "model\\.mtp_loss_weight = -0\\.1 must be"
                      train tiny --dry-run --set model.mtp_loss_weight=-0.1)
symphony_add_cli_test(bad_flag 2 "--no-such-flag"
                      train tiny --no-such-flag)
symphony_add_cli_test(data_prepare_jsonl 0 "train: [0-9]+ documents.*manifest .*cli_data_ok/manifest\\.json"
                      data prepare --input ${CMAKE_SOURCE_DIR}/tests/cli/fixtures/docs.jsonl
                      --out ${CMAKE_CURRENT_BINARY_DIR}/cli_data_ok --threads 2 --val-fraction 0)
symphony_add_cli_test(data_prepare_broken_json 2 "bad_lines\\.jsonl:2: broken JSON"
                      data prepare --input ${CMAKE_SOURCE_DIR}/tests/cli/fixtures/bad_lines.jsonl
                      --out ${CMAKE_CURRENT_BINARY_DIR}/cli_data_bad)
symphony_add_cli_test(data_prepare_skip_bad_lines 0 "skipped: 0 empty documents, 2 bad lines"
                      data prepare --input ${CMAKE_SOURCE_DIR}/tests/cli/fixtures/bad_lines.jsonl
                      --out ${CMAKE_CURRENT_BINARY_DIR}/cli_data_skip --skip-bad-lines)
symphony_add_cli_test(data_prepare_text_field 2 "docs\\.jsonl:1: no \"body\" field"
                      data prepare --input ${CMAKE_SOURCE_DIR}/tests/cli/fixtures/docs.jsonl
                      --out ${CMAKE_CURRENT_BINARY_DIR}/cli_data_field --text-field body)

symphony_add_cli_test(dry_run_zero3 0 "memory of each rank with dp=4 zero=3"
                      train tiny --dry-run --set parallel.dp=4 --set parallel.zero_stage=3)
symphony_add_cli_test(bad_zero_stage 2 "parallel\\.zero_stage = 5"
                      train tiny --dry-run --set parallel.zero_stage=5)
symphony_add_cli_test(tp_not_dividing_heads 2 "parallel\\.tp = 3 does not divide model\\.num_attention_heads = 4"
                      train tiny --dry-run --set parallel.tp=3)
symphony_add_cli_test(tp_against_kv_heads 2 "parallel\\.tp = 2 and model\\.num_key_value_heads = 3"
                      train tiny --dry-run --set model.num_attention_heads=6
                      --set model.num_key_value_heads=3 --set parallel.tp=2)
symphony_add_cli_test(tp_not_dividing_hidden 2 "parallel\\.tp = 4 does not divide model\\.hidden_size = 130"
                      train tiny --dry-run --set model.hidden_size=130 --set parallel.tp=4)
symphony_add_cli_test(tp_not_dividing_vocab 2 "parallel\\.tp = 2 does not divide model\\.vocab_size = 511"
                      train tiny --dry-run --set model.vocab_size=511 --set parallel.tp=2)
symphony_add_cli_test(tp_not_dividing_rows 2 "train\\.seq_len = 63: a micro-batch of 1 x 63"
                      train tiny --dry-run --set train.micro_batch_size=1 --set train.seq_len=63
                      --set parallel.tp=2)
symphony_add_cli_test(etp_not_dividing_expert_width 2 "parallel\\.etp = 3 does not divide model\\.moe_intermediate_size = 64"
                      train tiny --dry-run --set parallel.dp=3 --set parallel.etp=3)
symphony_add_cli_test(dry_run_tensor_parallel 0 "memory of each rank with tp=2"
                      train tiny --dry-run --set parallel.tp=2)
symphony_add_cli_test(ep_not_dividing_experts 2 "parallel\\.ep = 3 does not divide model\\.num_experts = 8"
                      train tiny --dry-run --set parallel.ep=3)
symphony_add_cli_test(ep_beyond_data_ranks 2 "parallel\\.ep = 4 .*dp\\*cp\\*tp = 2 ranks"
                      train tiny --dry-run --set parallel.dp=2 --set parallel.ep=4)
symphony_add_cli_test(ep_beyond_world 2 "parallel\\.ep = 2 .*dp\\*cp\\*tp = 1 ranks"
                      train tiny --set parallel.ep=2)
symphony_add_cli_test(ep_on_dense_model 2 "parallel\\.ep = 2: the model is dense"
                      train tiny --dry-run --set model.num_experts=0 --set parallel.ep=2)
symphony_add_cli_test(ep_in_rank_order 2 "parallel\\.order = 'tp,cp,ep,dp,pp' names ep"
                      train tiny --dry-run --set parallel.order=tp,cp,ep,dp,pp)
symphony_add_cli_test(dry_run_expert_parallel 0 "memory of each rank with dp=4 ep=2"
                      train tiny --dry-run --set parallel.dp=4 --set parallel.ep=2)
symphony_add_cli_test(mla_rope_odd 2 "model\\.qk_rope_head_dim = 7 must be even"
                      train tiny --dry-run --set model.qk_norm=false --set model.kv_lora_rank=32
                      --set model.qk_rope_head_dim=7 --set model.qk_nope_head_dim=16
                      --set model.v_head_dim=24)
symphony_add_cli_test(mla_without_head_dims 2 "model\\.qk_rope_head_dim = 0 must be positive: model\\.kv_lora_rank = 32"
                      train tiny --dry-run --set model.kv_lora_rank=32)
symphony_add_cli_test(mla_negative_q_lora 2 "model\\.q_lora_rank: expected a non-negative integer, got integer -1"
                      train tiny --dry-run --set model.q_lora_rank=-1)
symphony_add_cli_test(dry_run_mla_tensor_parallel 0 "memory of each rank with tp=2"
                      train tiny --dry-run --set model.qk_norm=false --set model.q_lora_rank=48
                      --set model.kv_lora_rank=32 --set model.qk_rope_head_dim=8
                      --set model.qk_nope_head_dim=16 --set model.v_head_dim=24
                      --set parallel.tp=2)
symphony_add_cli_test(bad_rank_order 2 "unknown axis 'xp'"
                      train tiny --dry-run --set parallel.order=tp,cp,dp,xp)
symphony_add_cli_test(comm_bench_one_process 0 "all_reduce +1024"
                      bench comm --max-bytes 4096)

# symphony plan
symphony_add_cli_test(plan_search 0 "searched [0-9]+ valid layouts.*best layout"
                      plan --model mixtral-8x7b --cluster h100 --gpus 64 --top 3)
symphony_add_cli_test(plan_layout_explain 0 "MWh.*expert all-to-all.*pipeline bubble"
                      plan --model kimi-k2-1t --cluster h800 --gpus 2048
                      --layout tp=2,pp=16,ep=16,cp=2,zero=2,schedule=dualpipe --explain)
symphony_add_cli_test(plan_deepseek_v3 0 "multi-head latent attention.*best layout"
                      plan --model deepseek-v3-671b --cluster h800 --gpus 2048 --top 1)
symphony_add_cli_test(plan_ling 0 "999\\.71B parameters, 51\\.05B active.*best layout"
                      plan --model ling-1t --cluster h100 --gpus 1024 --top 1)
symphony_add_cli_test(plan_json 0 "\"model_tflops_per_gpu\""
                      plan --model qwen3-30b-a3b --cluster a100-80gb --gpus 32 --json --top 2)
symphony_add_cli_test(plan_validate 0 "Fitting set: [0-9]+ runs.*Evaluation set: [0-9]+ runs \\([0-9]+ MoE\\); \\|error\\| median [0-9.]+%, 90th percentile"
                      plan --validate)
symphony_add_cli_test(plan_moe_imbalance_below_one 2 "--moe-imbalance 0\\.5 must be at least 1"
                      plan --model mixtral-8x7b --cluster h100 --gpus 64 --moe-imbalance 0.5)
symphony_add_cli_test(plan_moe_expert_overhead_negative 2
                      "--moe-expert-overhead-us -5 must be a non-negative number"
                      plan --model mixtral-8x7b --cluster h100 --gpus 64 --moe-expert-overhead-us -5)
symphony_add_cli_test(plan_moe_expert_overhead_explain 0 "routed experts.*rows per expert.*per-expert host.*beyond the experts' GEMMs; 1000 us"
                      plan --model qwen3-30b-a3b --cluster h100 --gpus 8 --layout ep=8 --explain
                      --moe-expert-overhead-us 1000)
symphony_add_cli_test(plan_fp8_recipe_unknown 2 "--fp8-recipe"
                      plan --model mixtral-8x7b --cluster h100 --gpus 64 --fp8-recipe perblock)
symphony_add_cli_test(plan_ep_dispatch_unknown 2 "--ep-dispatch"
                      plan --model mixtral-8x7b --cluster h100 --gpus 64 --ep-dispatch deepep)
symphony_add_cli_test(plan_ep_overlap_unknown 2 "--ep-overlap"
                      plan --model mixtral-8x7b --cluster h100 --gpus 64 --ep-overlap full)
symphony_add_cli_test(plan_ep_overlap_paired 0 "expert all-to-all.*beside the other direction's micro-batch"
                      plan --model qwen3-235b-a22b --cluster h100 --gpus 256 --seq-len 4096
                      --global-batch-tokens 8388608 --layout dp=32,pp=8,ep=8,mbs=1 --explain
                      --ep-overlap paired)
symphony_add_cli_test(plan_ep_overlap_none 0 "expert all-to-all +[1-9][0-9.]* s .*exposed, all-to-all"
                      plan --model qwen3-235b-a22b --cluster h100 --gpus 256 --seq-len 4096
                      --global-batch-tokens 8388608 --layout dp=32,pp=8,ep=8,mbs=1 --explain
                      --ep-overlap none)
symphony_add_cli_test(plan_ep_dispatch_node_dedup 0 "expert all-to-all.*node-dedup; before overlap"
                      plan --model qwen3-235b-a22b --cluster h100 --gpus 256
                      --layout dp=32,pp=8,ep=32,mbs=1 --explain --ep-dispatch node-dedup)
symphony_add_cli_test(plan_gb200_mx_bf16_grads 0 "precision=fp8.*MFU"
                      plan --model mixtral-8x7b --cluster gb200-nvl72 --gpus 64 --top 1
                      --layout tp=1,ep=8,split=even --precision fp8 --fp8-recipe mx
                      --grad-precision bf16 --dp-overlap 0)
symphony_add_cli_test(plan_unknown_cluster 2 "no cluster preset named 'h1000'; the cluster presets are: a100-40gb"
                      plan --model kimi-k2-1t --cluster h1000)
symphony_add_cli_test(plan_unknown_model 2 "no-such-model"
                      plan --model no-such-model --cluster h100)
symphony_add_cli_test(plan_zero_gpus 2 "at least one GPU"
                      plan --model kimi-k2-1t --cluster h100 --gpus 0)
symphony_add_cli_test(plan_fits_nowhere 2 "fits in no layout on 16 x H100.*[0-9]+ GPUs \\([0-9.]+x\\) would fit it"
                      plan --model kimi-k2-1t --cluster h100 --gpus 16)
symphony_add_cli_test(plan_tokens_overflow 2 "--tokens 1e\\+19 is more than the planner counts"
                      plan --model mixtral-8x7b --cluster h100 --gpus 64 --tokens 1e19)
symphony_add_cli_test(plan_seq_len_negative 2 "--seq-len -5 must be a positive number of tokens"
                      plan --model mixtral-8x7b --cluster h100 --gpus 64 --seq-len -5)
symphony_add_cli_test(plan_seq_len_zero 2 "--seq-len 0 must be a positive number of tokens"
                      plan --model mixtral-8x7b --cluster h100 --gpus 64 --seq-len 0)
symphony_add_cli_test(plan_batch_zero 2 "--global-batch-tokens 0 must be a positive number of tokens"
                      plan --model mixtral-8x7b --cluster h100 --gpus 64 --global-batch-tokens 0)
symphony_add_cli_test(plan_batch_negative 2 "--global-batch-tokens -4096 must be a positive"
                      plan --model mixtral-8x7b --cluster h100 --gpus 64 --global-batch-tokens -4096)
symphony_add_cli_test(plan_cluster_missing_key 2 "cluster_missing_memory\\.toml: accelerator\\.memory_gib is missing"
                      plan --model mixtral-8x7b
                      --cluster ${CMAKE_SOURCE_DIR}/tests/cli/fixtures/cluster_missing_memory.toml)
symphony_add_cli_test(plan_bad_layout_field 2 "--layout field 'tpp' is unknown"
                      plan --model kimi-k2-1t --cluster h100 --layout tpp=8)
symphony_add_cli_test(plan_bad_layout_value 2 "ep=256 does not divide num_experts 384"
                      plan --model kimi-k2-1t --cluster h100 --layout tp=8,pp=8,ep=256)
symphony_add_cli_test(plan_bad_layout_sizes 2 "parallel\\.ep = 5 \\(with"
                      plan --model kimi-k2-1t --cluster h100 --layout tp=8,pp=8,ep=5)
symphony_add_cli_test(plan_missing_calibration 2 "no-such-cal\\.toml"
                      plan --model kimi-k2-1t --cluster h100 --calibrate no-such-cal.toml)
symphony_add_cli_test(plan_pipeline 0
                      "zb-h1 pp=4 vpp=1 micro-batches=8: step 27\\.000 ms, bubble 11\\.1% \\(closed form 27\\.000 ms, 11\\.1%\\).*pipeline\\.trace\\.json.*pipeline\\.svg"
                      plan pipeline --pp 4 --micro-batches 8 --schedule zb-h1
                      --out ${CMAKE_CURRENT_BINARY_DIR}/cli_plan_pipeline)
symphony_add_cli_test(plan_pipeline_interleaved_batch 2
                      "parallel\\.pp = 4 with 6 micro-batches: parallel\\.pp_schedule = \"interleaved\""
                      plan pipeline --pp 4 --micro-batches 6 --schedule interleaved --vpp 2)
symphony_add_cli_test(plan_pipeline_bad_schedule 2 "--schedule 'zb-h3' must be gpipe, 1f1b"
                      plan pipeline --schedule zb-h3)
symphony_add_cli_test(plan_calibrate 0 "h100_measured\\.toml: GEMM 75%, attention 40%, HBM 90%"
                      plan --model kimi-k2-1t --cluster h100 --gpus 4096 --top 1
                      --calibrate ${CMAKE_SOURCE_DIR}/tests/plan/data/h100_measured.toml)

# checkpoints
symphony_add_cli_test(ckpt_inspect_missing 2 "no-such-run: no such directory"
                      ckpt inspect no-such-run)
symphony_add_cli_test(bad_keep_last 2 "checkpoint\\.keep_last = 0 must be at least 1"
                      train tiny --dry-run --set checkpoint.keep_last=0)

# symphony ckpt export-hf / import-hf. The cli_hf_models fixture writes tiny model files with
# hf_logits_dump (tests/parity/hf_parity_tests.cmake): mixtral exports, shared and bias are refused.
set(SYMPHONY_CLI_HF ${CMAKE_CURRENT_BINARY_DIR}/cli_hf)
add_test(NAME cli_hf_models
         COMMAND sh -c "rm -rf '${SYMPHONY_CLI_HF}' && for c in mixtral shared bias; do '$<TARGET_FILE:hf_logits_dump>' $c '${SYMPHONY_CLI_HF}' || exit 1; done")
set_tests_properties(cli_hf_models PROPERTIES FIXTURES_SETUP cli_hf_models)
symphony_add_cli_test(ckpt_export_hf 0 "exported .* as mixtral: 40 tensors.*mixtral_hf/tokenizer\\.json"
                      ckpt export-hf ${SYMPHONY_CLI_HF}/mixtral ${SYMPHONY_CLI_HF}/mixtral_hf)
symphony_add_cli_test(ckpt_import_hf 0 "imported .* \\(mixtral\\): 40 tensors.*mixtral_back/config\\.toml"
                      ckpt import-hf ${SYMPHONY_CLI_HF}/mixtral_hf ${SYMPHONY_CLI_HF}/mixtral_back)
symphony_add_cli_test(ckpt_generate_imported 0 "^Hi"
                      generate ${SYMPHONY_CLI_HF}/mixtral_back --prompt Hi --max-new-tokens 4
                      --temperature 0)
symphony_add_cli_test(ckpt_export_hf_shared_experts 2
                      "model\\.n_shared_experts = 1: no Hugging Face architecture"
                      ckpt export-hf ${SYMPHONY_CLI_HF}/shared/model.safetensors ${SYMPHONY_CLI_HF}/shared_hf)
symphony_add_cli_test(ckpt_export_hf_selection_bias 2
                      "model\\.layers\\.1\\.mlp\\.gate\\.e_score_correction_bias is non-zero"
                      ckpt export-hf ${SYMPHONY_CLI_HF}/bias ${SYMPHONY_CLI_HF}/bias_hf)
symphony_add_cli_test(ckpt_export_hf_output_not_empty 2 "mixtral: exists and is not an empty directory"
                      ckpt export-hf ${SYMPHONY_CLI_HF}/mixtral ${SYMPHONY_CLI_HF}/mixtral)
symphony_add_cli_test(ckpt_export_hf_bad_shard_size 2 "--max-shard-size: shard size '12XB'"
                      ckpt export-hf ${SYMPHONY_CLI_HF}/mixtral ${SYMPHONY_CLI_HF}/x --max-shard-size 12XB)
set_tests_properties(cli_ckpt_export_hf cli_ckpt_export_hf_shared_experts
                     cli_ckpt_export_hf_selection_bias cli_ckpt_export_hf_output_not_empty
                     cli_ckpt_export_hf_bad_shard_size PROPERTIES FIXTURES_REQUIRED cli_hf_models)
set_tests_properties(cli_ckpt_export_hf PROPERTIES FIXTURES_SETUP cli_hf_exported)
set_tests_properties(cli_ckpt_import_hf PROPERTIES FIXTURES_REQUIRED cli_hf_exported
                     FIXTURES_SETUP cli_hf_imported)
set_tests_properties(cli_ckpt_generate_imported PROPERTIES FIXTURES_REQUIRED cli_hf_imported)
symphony_add_cli_test(ckpt_export_hf_missing_source 2 "no-such-run: no such file or directory"
                      ckpt export-hf ${CMAKE_CURRENT_BINARY_DIR}/no-such-run ${SYMPHONY_CLI_HF}/y)
set(SYMPHONY_CLI_HF_FIXTURES ${CMAKE_SOURCE_DIR}/tests/cli/fixtures)
symphony_add_cli_test(ckpt_import_hf_unsupported_model_type 2
                      "hf_gpt2/config\\.json: model_type \"gpt2\" is not supported; supported: qwen3_moe, mixtral, qwen3, llama"
                      ckpt import-hf ${SYMPHONY_CLI_HF_FIXTURES}/hf_gpt2 ${SYMPHONY_CLI_HF}/gpt2)
symphony_add_cli_test(ckpt_import_hf_rope_scaling 2
                      "hf_rope_scaling/config\\.json: rope_scaling = .* is not supported"
                      ckpt import-hf ${SYMPHONY_CLI_HF_FIXTURES}/hf_rope_scaling ${SYMPHONY_CLI_HF}/rope)
symphony_add_cli_test(ckpt_import_hf_no_weights 2
                      "hf_no_weights: holds neither model\\.safetensors nor model\\.safetensors\\.index\\.json"
                      ckpt import-hf ${SYMPHONY_CLI_HF_FIXTURES}/hf_no_weights ${SYMPHONY_CLI_HF}/none)
symphony_add_cli_test(ckpt_import_hf_missing_tensor 2
                      "hf_missing_tensor/model\\.safetensors: no tensor named \"model\\.layers\\.0\\.mlp\\.down_proj\\.weight\""
                      ckpt import-hf ${SYMPHONY_CLI_HF_FIXTURES}/hf_missing_tensor ${SYMPHONY_CLI_HF}/missing)
symphony_add_cli_test(ckpt_import_hf_wrong_shape 2
                      "hf_wrong_shape/model\\.safetensors: tensor \"model\\.layers\\.0\\.mlp\\.gate_proj\\.weight\" has shape \\[4, 4\\], config\\.json implies \\[8, 4\\]"
                      ckpt import-hf ${SYMPHONY_CLI_HF_FIXTURES}/hf_wrong_shape ${SYMPHONY_CLI_HF}/shape)

# symphony eval: a one-file corpus trained with evaluation, then scored from the run, its
# checkpoint, its model file and its Hugging Face export and re-import (tests/cli/eval_cli_test.sh).
add_test(NAME cli_eval_end_to_end
         COMMAND bash ${CMAKE_SOURCE_DIR}/tests/cli/eval_cli_test.sh $<TARGET_FILE:symphony>
                 ${CMAKE_CURRENT_BINARY_DIR}/cli_eval ${SYMPHONY_MPIEXEC})
set_tests_properties(cli_eval_end_to_end PROPERTIES ENVIRONMENT "${SYMPHONY_MPI_TEST_ENV}"
                     PROCESSORS 2)
symphony_add_cli_test(eval_missing_model 2 "no-such-run: no such file or directory"
                      eval ${CMAKE_CURRENT_BINARY_DIR}/no-such-run --data ${CMAKE_SOURCE_DIR}/README.md)
symphony_add_cli_test(eval_missing_data 2 "no-such-data: no such file or directory"
                      eval ${CMAKE_CURRENT_BINARY_DIR}/no-such-run --data ${CMAKE_CURRENT_BINARY_DIR}/no-such-data)
symphony_add_cli_test(eval_bad_split 2 "--split: test not in"
                      eval ${CMAKE_CURRENT_BINARY_DIR}/no-such-run --data x --split test)
# Sizes beyond what int64 arithmetic or the machine holds: refused with the key or file named,
# before anything is allocated. SYMPHONY_MEMORY_LIMIT (core/host_memory.h) rehearses a 24 GiB
# machine, so the memory checks answer the same on any CI host.
symphony_add_cli_test(train_huge_layers 2 "model\\.num_hidden_layers = 2147483648 must be at most 65536"
                      train tiny --set model.num_hidden_layers=2147483648)
symphony_add_cli_test(train_max_layers 2 "model\\.num_hidden_layers = 9223372036854775807 must be at most"
                      train tiny --set model.num_hidden_layers=9223372036854775807)
symphony_add_cli_test(train_max_experts 2 "model\\.num_experts = 9223372036854775807 must be at most"
                      train tiny --set model.num_experts=9223372036854775807)
symphony_add_cli_test(train_max_micro_batch 2
                      "train\\.micro_batch_size \\* train\\.seq_len = 9223372036854775807 \\* 64 = over 2\\^63"
                      train tiny --set train.micro_batch_size=9223372036854775807)
set_tests_properties(cli_train_huge_layers cli_train_max_layers cli_train_max_experts
                     cli_train_max_micro_batch PROPERTIES TIMEOUT 30)
set(SYMPHONY_CLI_MEMORY_NEED
    "train: the run needs [0-9.]+ [GT]iB per process \\((optimizer state|activations) [0-9.]+ [GT]iB the largest\\) but [0-9.]+ [KMG]iB is available \\(")
symphony_add_cli_test(train_wide_deep_needs_memory 2
                      "${SYMPHONY_CLI_MEMORY_NEED}.*train a smaller model.*or pass --ignore-memory-check"
                      train tiny --set model.hidden_size=16384 --set model.num_hidden_layers=48)
symphony_add_cli_test(train_vocab_needs_memory 2 "${SYMPHONY_CLI_MEMORY_NEED}.*model\\.vocab_size"
                      train tiny --set model.vocab_size=8388608)
symphony_add_cli_test(train_long_batch_needs_memory 2
                      "${SYMPHONY_CLI_MEMORY_NEED}.*lower train\\.micro_batch_size or train\\.seq_len"
                      train tiny --set model.max_position_embeddings=65536 --set train.seq_len=65536
                      --set train.micro_batch_size=64)
set_property(TEST cli_train_wide_deep_needs_memory cli_train_vocab_needs_memory
             cli_train_long_batch_needs_memory APPEND PROPERTY ENVIRONMENT SYMPHONY_MEMORY_LIMIT=24G)
# No machine holds 2^20-wide layers 4096 deep: refused from the real /proc and cgroup figures.
symphony_add_cli_test(train_needs_more_than_any_machine 2
                      "train: the run needs [0-9.]+ [TP]iB per process .* is available \\((MemAvailable|cgroup)"
                      train tiny --set model.hidden_size=1048576 --set model.num_hidden_layers=4096)
# --ignore-memory-check skips the check: the run goes on to open its data, and fails there.
symphony_add_cli_test(train_memory_check_refuses 2 "but 1 B is available \\(SYMPHONY_MEMORY_LIMIT; "
                      train tiny --set data.train_path=/does-not-exist.tok)
symphony_add_cli_test(train_ignore_memory_check 2 "does-not-exist\\.tok"
                      train tiny --set data.train_path=/does-not-exist.tok --ignore-memory-check)
set_property(TEST cli_train_memory_check_refuses cli_train_ignore_memory_check APPEND PROPERTY
             ENVIRONMENT SYMPHONY_MEMORY_LIMIT=1)

symphony_add_cli_test(ckpt_import_hf_huge_layers 2
                      "hf_huge_layers/config\\.json: model\\.num_hidden_layers = 4611686018427387904 must be at most 65536"
                      ckpt import-hf ${SYMPHONY_CLI_HF_FIXTURES}/hf_huge_layers ${SYMPHONY_CLI_HF}/huge_layers)
symphony_add_cli_test(ckpt_import_hf_huge_experts 2
                      "hf_huge_experts/config\\.json: model: more than 2\\^63 parameters .*model\\.num_experts = 1048576"
                      ckpt import-hf ${SYMPHONY_CLI_HF_FIXTURES}/hf_huge_experts ${SYMPHONY_CLI_HF}/huge_experts)
symphony_add_cli_test(ckpt_import_hf_huge_sizes 2
                      "hf_huge_sizes/config\\.json: the model needs [0-9.]+ PiB .*the largest tensor is model\\.embed_tokens\\.weight \\[2147483647, 1048576\\]\\) but .* is available"
                      ckpt import-hf ${SYMPHONY_CLI_HF_FIXTURES}/hf_huge_sizes ${SYMPHONY_CLI_HF}/huge_sizes)
symphony_add_cli_test(generate_huge_layers 2
                      "model_huge_layers\\.safetensors \\[symphony\\.config\\]: model\\.num_hidden_layers = 2147483648 must be at most 65536"
                      generate ${SYMPHONY_CLI_HF_FIXTURES}/model_huge_layers.safetensors --prompt Hi)
symphony_add_cli_test(generate_huge_vocab 2
                      "model_huge_vocab\\.safetensors: the model needs [0-9.]+ PiB .* but .* is available"
                      generate ${SYMPHONY_CLI_HF_FIXTURES}/model_huge_vocab.safetensors --prompt Hi)
symphony_add_cli_test(ckpt_export_hf_huge_vocab 2
                      "model_huge_vocab\\.safetensors: the model needs [0-9.]+ PiB .* but .* is available"
                      ckpt export-hf ${SYMPHONY_CLI_HF_FIXTURES}/model_huge_vocab.safetensors
                      ${SYMPHONY_CLI_HF}/huge_vocab_hf)

# Pipeline parallelism: the dry run per stage, and bad input named by its key.
symphony_add_cli_test(dry_run_pipeline_parallel 0 "memory of each rank with pp=2 \\(the largest pipeline stage\\).*stage 1 "
                      train tiny --dry-run --set parallel.pp=2 --set train.global_batch_tokens=2048)
symphony_add_cli_test(pp_more_stages_than_layers 2 "parallel\\.pp = 8: 8 virtual stages for model\\.num_hidden_layers = 4"
                      train tiny --dry-run --set parallel.pp=8)
symphony_add_cli_test(pp_interleaved_too_few_micro_batches 2 "parallel\\.pp = 2 with 1 micro-batches: parallel\\.pp_schedule = \"interleaved\" needs a multiple of 2"
                      train tiny --dry-run --set parallel.pp=2 --set parallel.vpp=2 --set parallel.pp_schedule=interleaved)
symphony_add_cli_test(pp_layers_not_summing 2 "parallel\\.pp_layers = \\[3, 2\\] sums to 5 layers, but model\\.num_hidden_layers = 4"
                      train tiny --dry-run --set parallel.pp=2 --set "parallel.pp_layers=[3,2]")
symphony_add_cli_test(pp_layers_not_half 2 "parallel\\.pp_layers = \\[2\\.25, 1\\.75\\]: 2\\.25 is not a whole or half number"
                      train tiny --dry-run --set parallel.pp=2 --set "parallel.pp_layers=[2.25,1.75]")
symphony_add_cli_test(dry_run_pipeline_half_layers 0 "memory of each rank with pp=2 \\(the largest pipeline stage\\).*stage 0 .*; layers \\[0, 1\\.5\\)\\).*stage 1 .*; layers \\[1\\.5, 4\\)\\)"
                      train tiny --dry-run --set parallel.pp=2 --set "parallel.pp_layers=[1.5,2.5]" --set train.global_batch_tokens=2048)
symphony_add_cli_test(pp_layers_wrong_count 2 "parallel\\.pp_layers = \\[4\\] has 1 entries; it needs one per virtual stage"
                      train tiny --dry-run --set parallel.pp=2 --set "parallel.pp_layers=[4]")
symphony_add_cli_test(pp_unknown_schedule 2 "parallel\\.pp_schedule: expected one of gpipe, 1f1b, interleaved, zb-h1 or dualpipe"
                      train tiny --dry-run --set parallel.pp=2 --set parallel.pp_schedule=pipedream)
symphony_add_cli_test(pp_dualpipe_not_trained 2 "parallel\\.pp_schedule = \"dualpipe\" is costed by `symphony plan` only"
                      train tiny --dry-run --set parallel.pp=2 --set parallel.pp_schedule=dualpipe)
# The head split (parallel.pp_head_share): ZB-H1, pp 2, no tp or MTP.
symphony_add_cli_test(dry_run_pipeline_head_share 0 "memory of each rank with pp=2 \\(the largest pipeline stage\\).*stage 0 .*stage 1 "
                      train tiny --dry-run --set parallel.pp=2 --set parallel.pp_schedule=zb-h1 --set parallel.pp_head_share=0.25 --set model.tie_word_embeddings=true --set train.global_batch_tokens=2048)
symphony_add_cli_test(pp_head_share_needs_zero_bubble 2 "parallel\\.pp_head_share = 0\\.25 needs parallel\\.pp_schedule = \"zb-h1\" \\(it is \"1f1b\"\\)"
                      train tiny --dry-run --set parallel.pp=2 --set parallel.pp_head_share=0.25 --set model.tie_word_embeddings=true)
symphony_add_cli_test(pp_head_share_needs_two_stages 2 "parallel\\.pp_head_share = 0\\.25 needs parallel\\.pp = 2 \\(it is 4\\)"
                      train tiny --dry-run --set parallel.pp=4 --set parallel.pp_schedule=zb-h1 --set parallel.pp_head_share=0.25)
symphony_add_cli_test(pp_head_share_with_mtp 2 "parallel\\.pp_head_share = 0\\.25 with model\\.num_nextn_predict_layers = 1: the head split runs without multi-token prediction"
                      train tiny --dry-run --set parallel.pp=2 --set parallel.pp_schedule=zb-h1 --set parallel.pp_head_share=0.25 --set model.num_nextn_predict_layers=1)
symphony_add_cli_test(pp_head_share_out_of_range 2 "parallel\\.pp_head_share = 1 must be in \\[0, 1\\)"
                      train tiny --dry-run --set parallel.pp=2 --set parallel.pp_schedule=zb-h1 --set parallel.pp_head_share=1)
symphony_add_cli_test(pp_vpp_without_interleaving 2 "parallel\\.vpp = 2 needs parallel\\.pp_schedule = \"interleaved\""
                      train tiny --dry-run --set parallel.pp=2 --set parallel.vpp=2)
symphony_add_cli_test(plot_two_runs 0 "bf16: 2 train points, 1 eval points, last eval loss 4\\.5000 at step 2.*wrote .*cli_plot\\.svg"
                      plot fp32=${CMAKE_SOURCE_DIR}/tests/cli/fixtures/metrics_fp32.jsonl
                      bf16=${CMAKE_SOURCE_DIR}/tests/cli/fixtures/metrics_bf16.jsonl
                      --out ${CMAKE_CURRENT_BINARY_DIR}/cli_plot.svg)
symphony_add_cli_test(plot_missing_run 2 "metrics log /no-such-run"
                      plot /no-such-run --out ${CMAKE_CURRENT_BINARY_DIR}/cli_plot_missing.svg)
symphony_add_cli_test(plot_broken_line 2 "bad_lines\\.jsonl:2"
                      plot ${CMAKE_SOURCE_DIR}/tests/cli/fixtures/bad_lines.jsonl
                      --out ${CMAKE_CURRENT_BINARY_DIR}/cli_plot_bad.svg)
