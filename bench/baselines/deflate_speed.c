/* bench/baselines/deflate_speed.c: zlib against libdeflate at levels 1 and 4, with and
 * without shuffle, on 64 MiB of normal f32 in 1 MiB chunks (bench/RESULTS.md §18).
 *   cc -O2 bench/baselines/deflate_speed.c -o deflate_speed -lz -ldeflate -lm && ./deflate_speed */
#include <stdio.h>
#include <stdlib.h>
#include <math.h>
#include <time.h>
#include <string.h>
#include <zlib.h>
#include <libdeflate.h>
static double now(){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);return t.tv_sec+1e-9*t.tv_nsec;}
int main(){
  size_t n=16<<20; float *x=malloc(n*4); unsigned char *s=malloc(n*4);
  srand(1); for(size_t i=0;i<n;i++){double u=(rand()+1.0)/(RAND_MAX+2.0),v=(rand()+1.0)/(RAND_MAX+2.0); x[i]=(float)(280+10*sqrt(-2*log(u))*cos(6.283*v));}
  for(size_t i=0;i<n;i++) for(int b=0;b<4;b++) s[b*n+i]=((unsigned char*)x)[4*i+b];
  size_t cs=1<<20; /* 1 MiB chunks */
  unsigned char *out=malloc(compressBound(cs)+1000);
  for(int sh=0;sh<2;sh++) for(int lvl=1;lvl<=6;lvl+=3){
    const unsigned char *src= sh? s:(unsigned char*)x;
    double t=now(); size_t tot=0;
    for(size_t o=0;o<n*4;o+=cs){uLongf dl=compressBound(cs); compress2(out,&dl,src+o,cs,lvl); tot+=dl;}
    double tz=now()-t;
    struct libdeflate_compressor *c=libdeflate_alloc_compressor(lvl);
    t=now(); size_t tot2=0;
    for(size_t o=0;o<n*4;o+=cs){tot2+=libdeflate_zlib_compress(c,src+o,cs,out,compressBound(cs));}
    double tl=now()-t;
    printf("shuffle %d level %d: zlib %.0f MB/s ratio %.3f; libdeflate %.0f MB/s ratio %.3f\n",sh,lvl,n*4/tz/1e6,(double)tot/(n*4),n*4/tl/1e6,(double)tot2/(n*4));
  }
}
