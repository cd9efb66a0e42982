"""Hand-made Kaldi files shared by the tests of the Kaldi formats and of importing a Kaldi experiment."""

# A model as Kaldi's gmm-copy --binary=false prints it (TransitionModel::Write then AmDiagGmm::Write): two phones
# sharing a 2-state topology, a monophone tree (pdfs 0-1 for phone 1, 2-3 for phone 2), 2-dimensional GMMs with
# unit variances, pdf 3 a mixture of two Gaussians.
HAND_MODEL = """\
<TransitionModel> 
<Topology> 
<TopologyEntry> 
<ForPhones> 
1 2 
</ForPhones> 
<State> 0 <PdfClass> 0 <Transition> 0 0.5 <Transition> 1 0.5 </State> 
<State> 1 <PdfClass> 1 <Transition> 1 0.5 <Transition> 2 0.5 </State> 
<State> 2 </State> 
</TopologyEntry> 
</Topology> 
<Triples> 4 
1 0 0 
1 1 1 
2 0 2 
2 1 3 
</Triples> 
<LogProbs> 
 [ 0 -0.6931472 -0.6931472 -0.6931472 -0.6931472 -0.6931472 -0.6931472 -0.6931472 -0.6931472 ]
</LogProbs> 
</TransitionModel> 
<DIMENSION> 2 <NUMPDFS> 4 <DiagGMM> 
<GCONSTS>  [ -10.83788 ]
<WEIGHTS>  [ 1 ]
<MEANS_INVVARS>  [
  -3 -3 ]
<INV_VARS>  [
  1 1 ]
</DiagGMM> 
<DiagGMM> 
<GCONSTS>  [ -10.83788 ]
<WEIGHTS>  [ 1 ]
<MEANS_INVVARS>  [
  -3 3 ]
<INV_VARS>  [
  1 1 ]
</DiagGMM> 
<DiagGMM> 
<GCONSTS>  [ -10.83788 ]
<WEIGHTS>  [ 1 ]
<MEANS_INVVARS>  [
  3 -3 ]
<INV_VARS>  [
  1 1 ]
</DiagGMM> 
<DiagGMM> 
<GCONSTS>  [ -11.53102 -18.53102 ]
<WEIGHTS>  [ 0.5 0.5 ]
<MEANS_INVVARS>  [
  3 3 
  4 4 ]
<INV_VARS>  [
  1 1 
  1 1 ]
</DiagGMM> 
"""
# The matching tree as Kaldi's tree-copy --binary=false prints it (ContextDependency::Write, EventMap::Write)
HAND_TREE = ("ContextDependency 1 0 ToPdf TE 0 3 ( NULL TE -1 2 ( CE 0 CE 1 ) \nTE -1 2 ( CE 2 CE 3 ) \n) \n"
             "EndContextDependency ")
